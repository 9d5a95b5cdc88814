"""The standard ``OTEL_*`` variables that traces and metrics both read, as OpenTelemetry's SDK reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from todostack import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

__all__ = ["otlp_endpoint", "otlp_protocol", "resource", "tracing_disabled"]


def tracing_disabled(env: Mapping[str, str]) -> bool:
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def otlp_endpoint(env: Mapping[str, str], signal: str) -> str | None:
    return env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def otlp_protocol(env: Mapping[str, str], signal: str) -> str:
    """``grpc`` or ``http/protobuf`` (the default) for ``signal`` (traces, metrics)."""
    chosen = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    return (chosen or "http/protobuf").lower()


def resource(env: Mapping[str, str]) -> Resource:
    """Imports the SDK: call it only when traces or metrics are exported."""
    from opentelemetry.sdk.resources import Resource

    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES, and OTEL_SERVICE_NAME wins over both.
    return Resource.create(
        {"service.name": env.get("OTEL_SERVICE_NAME") or "todostack", "service.version": __version__}
    )
