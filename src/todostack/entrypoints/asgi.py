"""The ASGI factory each of the server's workers calls: one app per worker process."""

from __future__ import annotations

import os

from litestar import Litestar

from todostack.bootstrap import create_app
from todostack.delivery.http.asgi.lifecycle import capture_server_stop
from todostack.observability.logs import LogSink, configure_logging, logging_configured
from todostack.profiling.peers import PEER_DIR_ENV
from todostack.runtime import Settings, size_service
from todostack.runtime.memory import limit_malloc_arenas
from todostack.runtime.parent import server_to_watch
from todostack.runtime.plan import WORKER_PLAN_ENV, WorkerPlan

__all__ = ["APP", "app_from_env", "worker_app"]

# For servers that import the app by name (uvicorn, or `granian --factory todostack.entrypoints.asgi:app_from_env`).
APP = "todostack.entrypoints.asgi:app_from_env"


def worker_app(settings: Settings, plan: WorkerPlan, logs: LogSink | None = None) -> Litestar:
    """In a freshly started worker: ``todostack serve`` decided the settings and the plan, and
    configured logging (``logs``, inherited through the fork)."""
    capture_server_stop()  # before granian sets its signal handlers in this worker
    limit_malloc_arenas(settings.runtime.malloc_arena_max)  # again for a spawned worker: a fresh process
    if logs is None and not logging_configured():
        # A spawned worker (uvicorn's) starts a fresh interpreter: a forked one (granian's)
        # inherits what `todostack serve` set up.
        logs = configure_logging(settings.log_level)
    return create_app(settings, plan=plan, handle_signals=True, logs=logs)


def app_from_env() -> Litestar:
    """The same, for a worker that only has the environment to go on."""
    settings = Settings.from_env(os.environ)
    raw = os.environ.get(WORKER_PLAN_ENV)
    if raw:
        plan = WorkerPlan.from_json(raw)
    else:
        plan = WorkerPlan(
            size_service(settings),
            server_pid=server_to_watch(os.environ, os.getpid()),
            peer_dir=os.environ.get(PEER_DIR_ENV) or None,
        )
    return worker_app(settings, plan)
