"""What a worker imports when it builds its app: nothing it will not use.

Every module a worker imports costs start-up time and memory in each worker (granian forks them
after the app's modules are loaded, and reference counts then touch those pages in each). The
redis client, for one, was a third of the app's import time and is used only with
``TODOSTACK_REDIS_URL``; the OpenTelemetry SDK (its metrics 0.1-0.2 s), only with an OTLP endpoint;
rich and pygments, which structlog would load for its console renderer, never.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

_BUILD = """
import json, sys
from todostack.entrypoints.asgi import app_from_env
app_from_env()
print(json.dumps(sorted(sys.modules)))
"""


def _top_level_modules_after_building(env: dict[str, str]) -> set[str]:
    return {name.split(".")[0] for name in _modules_after_building(env)}


def _modules_after_building(env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _BUILD],
        env={k: v for k, v in os.environ.items() if not k.startswith("TODOSTACK_")} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_worker_without_redis_settings_never_imports_the_redis_client() -> None:
    loaded = _top_level_modules_after_building({"TODOSTACK_DATABASE_URL": "memory://"})
    assert "litestar" in loaded  # the app was built
    assert "redis" not in loaded


def test_a_worker_without_an_otlp_endpoint_never_imports_the_sdk() -> None:
    loaded = _modules_after_building({"TODOSTACK_DATABASE_URL": "memory://"})
    assert {"litestar", "opentelemetry.trace"} <= loaded  # the API, which the spans' code calls, is there
    # Neither the SDK's metrics nor its traces: tracing starts in the worker, and only with an endpoint.
    assert not {"opentelemetry.sdk.metrics", "opentelemetry.sdk.trace", "opentelemetry.sdk.resources"} & loaded
    with_endpoint = _modules_after_building(
        {"TODOSTACK_DATABASE_URL": "memory://", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    )
    assert "opentelemetry.sdk.metrics" in with_endpoint


def test_a_worker_never_imports_rich_or_pygments() -> None:
    """structlog's package would import rich (and pygments) to format its console renderer's tracebacks:
    5.5 MiB of every worker's RSS (docs/benchmarks.md, "Worker memory: structlog without rich")."""
    loaded = _top_level_modules_after_building({"TODOSTACK_DATABASE_URL": "memory://"})
    assert {"litestar", "structlog"} <= loaded
    assert not {"rich", "pygments"} & loaded


_CONSOLE = """
import sys
from todostack.observability.lean_structlog import structlog
try:
    1 / 0
except ZeroDivisionError:
    line = structlog.dev.ConsoleRenderer(colors=False)(None, "error", {"event": "boom", "exc_info": sys.exc_info()})
import rich  # hidden only while structlog loaded: anyone else may still import it
print(line)
"""


def test_structlogs_console_renderer_still_prints_a_traceback_and_rich_stays_importable() -> None:
    done = subprocess.run([sys.executable, "-c", _CONSOLE], capture_output=True, text=True, timeout=60, check=True)
    assert "boom" in done.stdout
    assert "Traceback (most recent call last)" in done.stdout
    assert "ZeroDivisionError: division by zero" in done.stdout


def test_the_service_imports_structlog_only_through_lean_structlog() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "todostack"
    direct = [
        path.relative_to(src).as_posix()
        for path in src.rglob("*.py")
        if path.name != "lean_structlog.py"
        and re.search(r"^\s*(import structlog|from structlog)", path.read_text(), re.MULTILINE)
    ]
    assert direct == []
