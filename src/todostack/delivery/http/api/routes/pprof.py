"""``/debug/pprof``: profiles on demand, behind the admin token (Go's net/http/pprof, for this service).

Not mounted at all without ``TODOSTACK_ADMIN_TOKEN`` (so 404); with it, every route wants
``Authorization: Bearer <that token>`` (401 otherwise). Each answer says which worker(s) it
covers in ``X-Profile-Pids``; ``?pid=<pid>`` picks a worker and ``?pid=all`` merges them all
(each sample labelled with its pid).
"""

from __future__ import annotations

import hmac
import os
import socket
import time
from typing import Annotated, Any, Literal

from litestar import MediaType, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import QueryParameter
from msgspec import Struct

from todostack.delivery.http.api.problems import problem_response
from todostack.delivery.http.api.request import ApiRequest
from todostack.profiling.flamegraph import render_flamegraph
from todostack.profiling.ondemand import Kind, PeerError
from todostack.profiling.pprof import encode
from todostack.profiling.profile import StackProfile
from todostack.profiling.tasks import render_tasks

__all__ = ["MAX_SECONDS", "PREFIX", "pprof_router"]

PREFIX = "/debug/pprof"
MAX_SECONDS = 60.0
PIDS_HEADER = "X-Profile-Pids"

CpuSeconds = Annotated[float, QueryParameter(gt=0, le=MAX_SECONDS, description="how long to sample")]
HeapSeconds = Annotated[
    float, QueryParameter(ge=0, le=MAX_SECONDS, description="without tracemalloc running: how long to trace")
]
Pid = Annotated[str | None, QueryParameter(description="a worker's pid, or 'all'; default: the worker answering")]


class Index(Struct):
    pid: int
    workers: list[int]
    endpoints: dict[str, str]


def _pid(raw: str | None) -> int | Literal["all"] | None:
    if raw is None or raw == "":
        return None
    if raw == "all":
        return "all"
    if not raw.isdigit():
        raise ValueError("pid must be a worker's pid or 'all'")
    return int(raw)


def _filename(kind: str, pids: list[int]) -> str:
    who = str(pids[0]) if len(pids) == 1 else "all"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"pprof.todostack.{socket.gethostname()}.{who}.{kind}.{stamp}"


async def _take(
    request: ApiRequest, kind: Kind, seconds: float, pid: str | None
) -> tuple[StackProfile, list[int]] | Response[Any]:
    on_demand = request.handed.profiles
    try:
        chosen = _pid(pid)
    except ValueError as exc:
        return problem_response(request, 400, str(exc))
    if isinstance(chosen, int) and chosen not in on_demand.workers() and chosen != os.getpid():
        return problem_response(request, 404, f"no worker with pid {chosen}; see {PREFIX}/ for the workers")
    try:
        return await on_demand.take(kind, seconds, chosen)
    except PeerError as exc:
        return problem_response(request, 502, str(exc))


def _pprof(profile: StackProfile, pids: list[int], kind: str) -> Response[bytes]:
    return Response(
        encode(profile),
        media_type="application/octet-stream",
        headers={
            PIDS_HEADER: ",".join(map(str, pids)),
            "Content-Disposition": f'attachment; filename="{_filename(kind, pids)}.pb.gz"',
        },
    )


@get("/", summary="The profiles on offer and the workers they can cover")
async def index(request: ApiRequest) -> Response[Index]:
    on_demand = request.handed.profiles
    workers = on_demand.workers()
    return Response(
        Index(
            os.getpid(),
            workers,
            {
                "profile": f"{PREFIX}/profile?seconds=10 : CPU, pprof (go tool pprof)",
                "heap": f"{PREFIX}/heap : in-use memory by allocation site, pprof",
                "tasks": f"{PREFIX}/tasks?format=text|pprof : every asyncio task and thread",
                "flamegraph": f"{PREFIX}/flamegraph?seconds=10 : CPU as a self-contained SVG",
                "pid": "add ?pid=<pid> for one worker or ?pid=all for all of them",
            },
        ),
        headers={PIDS_HEADER: ",".join(map(str, workers))},
    )


@get("/profile", summary="CPU profile (pprof)")
async def cpu(request: ApiRequest, seconds: CpuSeconds = 10.0, pid: Pid = None) -> Response[Any]:
    taken = await _take(request, "cpu", seconds, pid)
    return taken if isinstance(taken, Response) else _pprof(*taken, "samples.cpu")


@get("/heap", summary="Heap profile: in-use memory by allocation site (pprof)")
async def heap(request: ApiRequest, seconds: HeapSeconds = 5.0, pid: Pid = None) -> Response[Any]:
    taken = await _take(request, "heap", seconds, pid)
    return taken if isinstance(taken, Response) else _pprof(*taken, "inuse_objects.inuse_space.heap")


@get("/tasks", summary="Task dump: every asyncio task and thread with its stack")
async def tasks(
    request: ApiRequest,
    output: Annotated[Literal["text", "pprof"], QueryParameter(name="format")] = "text",
    pid: Pid = None,
) -> Response[Any]:
    taken = await _take(request, "tasks", 0, pid)
    if isinstance(taken, Response):
        return taken
    profile, pids = taken
    if output == "pprof":
        return _pprof(profile, pids, "tasks")
    return Response(render_tasks(profile), media_type=MediaType.TEXT, headers={PIDS_HEADER: ",".join(map(str, pids))})


@get("/flamegraph", summary="CPU flame graph (SVG)")
async def flamegraph(request: ApiRequest, seconds: CpuSeconds = 10.0, pid: Pid = None) -> Response[Any]:
    taken = await _take(request, "cpu", seconds, pid)
    if isinstance(taken, Response):
        return taken
    profile, pids = taken
    title = f"todostack CPU, {seconds:g} s, pid {','.join(map(str, pids))}"
    return Response(
        render_flamegraph(profile, title),
        media_type="image/svg+xml",
        headers={PIDS_HEADER: ",".join(map(str, pids))},
    )


def admin_only(token: str, what: str = "the debug endpoints need") -> Any:
    """A guard: 401 unless ``Authorization: Bearer <token>`` (compared in constant time)."""
    expected = f"Bearer {token}".encode()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException(f"{what} Authorization: Bearer <TODOSTACK_ADMIN_TOKEN>")

    return guard


def pprof_router(admin_token: str) -> Router:
    return Router(
        PREFIX,
        route_handlers=[index, cpu, heap, tasks, flamegraph],
        guards=[admin_only(admin_token)],
        include_in_schema=False,
        tags=["debug"],
    )
