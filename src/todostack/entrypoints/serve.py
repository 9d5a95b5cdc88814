"""``todostack serve``: check the database, size the service once, then start the ASGI server
(granian; uvicorn for comparison) with its workers.

granian forks its workers and calls a loader we give it in each: the settings and the worker plan
(sizing, the server's pid, the profile-socket directory) reach them as values, through
``Server.serve(target_loader=...)``. uvicorn starts fresh interpreters that import the app by name,
so for it (a development comparison) the environment is the one channel: the settings as their
``TODOSTACK_*`` variables and the plan as one JSON variable. ``PROMETHEUS_MULTIPROC_DIR`` stays an
environment variable for both: prometheus_client reads it there.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import shutil
import socket
import sys
import tempfile
from functools import partial

from todostack.bootstrap import MigrationError, migrate, pending_migrations, with_secret_key
from todostack.ebpf import probes
from todostack.entrypoints.asgi import APP, worker_app
from todostack.observability import MULTIPROC_ENV
from todostack.observability.logs import LogSink
from todostack.runtime import Settings, size_service
from todostack.runtime.memory import limit_malloc_arenas, resident_bytes
from todostack.runtime.plan import WORKER_PLAN_ENV, WorkerPlan

__all__ = ["serve"]

log = logging.getLogger("todostack.serve")

# granian's own lines (a worker started, stopping, stopped or killed) go to the root handler that
# ``configure_logging`` set, so they are JSON with a timestamp like every other line: a slow stop
# can be read off the log.
GRANIAN_LOGS = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"_granian": {"handlers": [], "propagate": True}},
}


def serve(settings: Settings, logs: LogSink) -> int:
    metrics_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        # Before anything imports prometheus_client: the workers write their metrics here, and
        # /metrics adds up every worker's (see observability.metrics).
        metrics_dir = tempfile.mkdtemp(prefix="todostack-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    # Each worker's profile socket (/debug/pprof?pid=...): private to this server (0700).
    peers_dir = tempfile.mkdtemp(prefix="todostack-workers-")
    try:
        return _serve(settings, peers_dir, logs)
    finally:
        for made in (metrics_dir, peers_dir):
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)


def _serve(settings: Settings, peers_dir: str, logs: LogSink) -> int:
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.server import Server

    problems = settings.problems_for_start()
    if problems:
        for problem in problems:
            print(f"todostack serve: refusing to start: {problem}", file=sys.stderr)
        return 2
    unusable = _cannot_listen(settings.server.host, settings.server.port)
    if unusable is not None:
        # Said here in a line, where the server would say it in a Rust backtrace.
        print(
            f"todostack serve: cannot listen on {settings.server.host}:{settings.server.port}: {unusable}",
            file=sys.stderr,
        )
        return 1
    try:
        if settings.database.dialect == "sqlite":
            for m in asyncio.run(migrate(settings)):
                log.info("applied migration %04d_%s", m.version, m.name)
        pending = asyncio.run(pending_migrations(settings))
    except MigrationError as exc:
        print(f"todostack serve: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"todostack serve: cannot reach the database: {exc}", file=sys.stderr)
        return 3
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        print(
            f"todostack serve: the database is not migrated (pending: {names}); run `todostack migrate` first",
            file=sys.stderr,
        )
        return 3
    # Once, before the workers exist, so that they all sign with the same key.
    settings = with_secret_key(settings)

    sizing = size_service(settings)  # the one place the served service is sized
    workers = sizing.workers
    log.info("todostack: %s", sizing.cpu_reason)
    # Workers stop themselves if this process is killed outright (runtime.parent).
    plan = WorkerPlan(sizing, server_pid=os.getpid(), peer_dir=peers_dir)
    log.info(
        "serving on http://%s:%d with %d worker(s), database %s, event loop %s",
        settings.server.host,
        settings.server.port,
        workers,
        settings.database.dialect,
        settings.server.event_loop,
    )
    if sizing.soft_limit_bytes is not None and settings.runtime.memory_limit is None:
        # The workers share what the limit leaves after this (parent) process: hand them that
        # as an explicit limit, so each worker's guard gets a share that really fits.
        net = max(sizing.soft_limit_bytes - resident_bytes(), 32 * 1024 * 1024)
        plan = plan.with_memory_for_workers(net)
        log.info("memory guard: %d MiB per worker", net // workers >> 20)
    # Built (if need be) and loaded once here: the forked workers inherit the library.
    probes.load(settings.runtime.probes, settings.runtime.probes_library)
    if settings.runtime.gc_threshold is not None:
        gc.set_threshold(settings.runtime.gc_threshold)
    limit_malloc_arenas(settings.runtime.malloc_arena_max)  # forked workers inherit the cap
    # What the parent imported so far is shared copy-on-write with the forked workers; freezing it
    # keeps the collector from touching (and so copying) those pages in every worker.
    if settings.runtime.gc_freeze:
        gc.collect()
        gc.freeze()
    # Past this, a stopping worker is killed: its pre-stop delay, then its time to stop.
    kill_after = math.ceil(settings.requests.shutdown_delay_seconds + settings.requests.stop_seconds_after_close())
    if settings.server.asgi_server == "uvicorn":
        return _serve_uvicorn(settings, plan, kill_after)
    Server(
        APP,
        address=settings.server.host,
        port=settings.server.port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops(settings.server.event_loop),
        factory=True,
        log_enabled=True,
        log_dictconfig=GRANIAN_LOGS,
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=kill_after,
        http1_settings=HTTP1Settings(header_read_timeout=round(settings.requests.header_read_timeout_seconds * 1000)),
    ).serve(target_loader=partial(worker_app, settings, plan, logs), wrap_loader=False)
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (taken, not an address of this machine), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _serve_uvicorn(settings: Settings, plan: WorkerPlan, kill_after: int) -> int:
    """The same app under uvicorn (httptools, the same event loop as granian would run):
    ``todostack bench --asgi-server uvicorn`` compares the two servers.

    The listening socket is made here: the one uvicorn makes for ``--workers`` has protocol 0, so
    asyncio does not set ``TCP_NODELAY`` on its connections, and every response (headers, then
    body) waits out a 40 ms delayed ACK: 710 req/s on ``get-one``, with 1.5 ms in the app.
    """
    try:
        import uvicorn
        from uvicorn.supervisors import Multiprocess
    except ImportError:
        print("todostack serve: TODOSTACK_ASGI_SERVER=uvicorn needs uvicorn installed (uv sync)", file=sys.stderr)
        return 2
    workers = plan.sizing.workers
    # uvicorn's workers import the app by name in fresh interpreters: the environment reaches them.
    os.environ.update(settings.to_env())
    os.environ[WORKER_PLAN_ENV] = plan.to_json()
    config = uvicorn.Config(
        APP,
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=workers,
        http="httptools",
        loop=settings.server.event_loop,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=kill_after,
        timeout_keep_alive=math.ceil(settings.requests.header_read_timeout_seconds),
    )
    family = socket.AF_INET6 if ":" in settings.server.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.server.host, settings.server.port))  # checked in _serve
    sock.set_inheritable(True)
    if workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        Multiprocess(config, sockets=[sock]).run()
    return 0
