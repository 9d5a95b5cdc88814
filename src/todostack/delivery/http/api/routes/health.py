"""Liveness and readiness probes (Kubernetes conventions)."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from litestar import MediaType, Response, get
from litestar.handlers import HTTPRouteHandler
from msgspec import Struct

from todostack.delivery.http.api.problems import problem_response
from todostack.delivery.http.api.request import ApiRequest
from todostack.delivery.http.api.responses import problems
from todostack.delivery.http.api.routes.pprof import admin_only
from todostack.delivery.http.api.schemas import Problem

__all__ = ["handlers"]

log = logging.getLogger("todostack.health")
# /readyz answers within 1 s whatever the database does (hung, black-holed): past this, not ready.
READY_TIMEOUT_S = 0.8


class Status(Struct):
    status: Literal["ok", "ready"]


@get("/healthz", summary="Liveness: the process answers (no database)", tags=["health"], exclude_from_auth=True)
async def healthz() -> Status:
    return Status("ok")


@get(
    "/readyz",
    summary="Readiness: the database answers and the worker is not draining",
    tags=["health"],
    responses=problems(503),
)
async def readyz(request: ApiRequest) -> Response[Status] | Response[Problem]:
    services = request.services
    lifecycle = request.handed.lifecycle
    if lifecycle.draining:
        return problem_response(request, 503, "shutting down: finishing the requests in flight")
    try:
        await asyncio.wait_for(services.check_ready(), READY_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the log says why
        log.warning("not ready: %r", exc)
        return problem_response(request, 503, "the database is not reachable")
    return Response(Status("ready"))


async def _metrics(request: ApiRequest) -> Response[bytes]:
    registry = request.handed.metrics
    return Response(registry.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


def metrics_handler(*, public: bool, admin_token: str | None) -> HTTPRouteHandler | None:
    """``/metrics`` on the public listener: to anyone when ``public`` (development), else only to
    ``Authorization: Bearer <admin token>``; not mounted at all (404) without either. Scrapers
    use the metrics port instead (``TODOSTACK_METRICS_PORT``, ``observability.scrape``)."""
    if not public and not admin_token:
        return None
    guards = [] if public else [admin_only(admin_token or "", "/metrics on this port needs")]
    return get(
        "/metrics",
        summary="Prometheus metrics of every worker",
        tags=["health"],
        media_type=MediaType.TEXT,
        include_in_schema=False,
        guards=guards,
    )(_metrics)


handlers = [healthz, readyz]
