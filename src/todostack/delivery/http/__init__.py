"""The HTTP API (Litestar + msgspec)."""

from todostack.delivery.http.api.services import HttpConfig, Services
from todostack.delivery.http.app import create_http_app

__all__ = ["HttpConfig", "Services", "create_http_app"]
