"""Where the API lives: every route and link under the API is built from these."""

__all__ = ["API_PREFIX", "OPENAPI_PATH", "SWAGGER_ASSETS"]

API_PREFIX = "/api/v1"
OPENAPI_PATH = "/api"  # /api/openapi.json; /api/docs is the web page's
SWAGGER_ASSETS = "/api/docs-assets"
