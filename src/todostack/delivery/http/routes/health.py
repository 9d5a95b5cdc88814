"""Liveness and readiness probes (Kubernetes conventions)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import MediaType, Request, Response, get
from msgspec import Struct

from todostack.delivery.http.lifecycle import Lifecycle
from todostack.delivery.http.problems import problem_response
from todostack.delivery.http.responses import problems
from todostack.delivery.http.routes.deps import services_of
from todostack.delivery.http.schemas import Problem
from todostack.observability.metrics import Metrics

__all__ = ["handlers"]

log = logging.getLogger("todostack.health")
# /readyz answers within 1 s whatever the database does (hung, black-holed): past this, not ready.
READY_TIMEOUT_S = 0.8


class Status(Struct):
    status: str


@get("/healthz", summary="Liveness: the process answers (no database)", tags=["health"], exclude_from_auth=True)
async def healthz() -> Status:
    return Status("ok")


@get(
    "/readyz",
    summary="Readiness: the database answers and the worker is not draining",
    tags=["health"],
    responses=problems(503),
)
async def readyz(request: Request[Any, Any, Any]) -> Response[Status] | Response[Problem]:
    services = services_of(request)
    lifecycle: Lifecycle = request.app.state.lifecycle
    if lifecycle.draining:
        return problem_response(request, 503, "shutting down: finishing the requests in flight")
    try:
        await asyncio.wait_for(services.check_ready(), READY_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the log says why
        log.warning("not ready: %r", exc)
        return problem_response(request, 503, "the database is not reachable")
    return Response(Status("ready"))


@get(
    "/metrics",
    summary="Prometheus metrics of every worker",
    tags=["health"],
    media_type=MediaType.TEXT,
    include_in_schema=False,
)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


handlers = [healthz, readyz, metrics]
