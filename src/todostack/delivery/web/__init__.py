"""The web page (tier 1): static HTML, ES modules and CSS served by the app, no build step."""

from todostack.delivery.web.pages import SECURITY_HEADERS, web_router

__all__ = ["SECURITY_HEADERS", "web_router"]
