"""The HTTP API (Litestar + msgspec)."""

from todostack.delivery.http.app import create_http_app
from todostack.delivery.http.services import HttpConfig, Services

__all__ = ["HttpConfig", "Services", "create_http_app"]
