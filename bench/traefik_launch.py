"""Traefik for the edge benchmarks: the binary from `make deploy-tools`, the chart's rendered middleware chain
and the Go runtime settings compose ships, started on a port and waited for; and what a process used (CPU, peak
memory). ``edge_overhead.py`` and ``edge_middleware_cost.py`` both start Traefik through this."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from todostack.bench.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
TRAEFIK = ROOT / ".tools" / "deploy" / "bin" / "traefik"
TOOLS_PYTHON = ROOT / ".tools" / "deploy" / "bin" / "python"
# Traefik's Go runtime settings as deploy/compose.yaml ships them (GOMAXPROCS, GOGC, GOMEMLIMIT).
TRAEFIK_ENV = ROOT / "deploy" / "traefik.env"
# The chart's chain, with the per-client limits out of reach: wrk is one client.
VALUES = {
    "traefik": {
        "enabled": True,
        "entryPoints": ["web"],
        "rateLimit": {"average": 100_000, "burst": 100_000},  # larger ones render as 1e+06, which Traefik refuses
        "authRateLimit": {"enabled": False},
    }
}


def _chart_chain() -> tuple[dict[str, Any], list[str]]:
    """The chart's rendered Middleware specs and the general route's chain, in order."""
    done = subprocess.run(
        [
            str(TOOLS_PYTHON),
            str(ROOT / "deploy" / "release" / "chart_check.py"),
            "render",
            "--set-json",
            json.dumps(VALUES),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    objects = [item["object"] for item in json.loads(done.stdout)]
    middlewares = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}
    [route] = [o for o in objects if o["kind"] == "IngressRoute"]
    general = min(route["spec"]["routes"], key=lambda r: r["priority"])
    return middlewares, [m["name"] for m in general["middlewares"]]


def traefik_runtime_env() -> dict[str, str]:
    """The variables of deploy/traefik.env (``KEY=VALUE`` lines; ``#`` comments)."""
    lines = (line.strip() for line in TRAEFIK_ENV.read_text().splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@contextlib.contextmanager
def run_traefik(tmp: Path, static: dict[str, Any], port: int, ready_path: str) -> Iterator[tuple[str, int]]:
    """Traefik started with ``static`` as its configuration, once ``ready_path`` answers 200 on
    its ``web`` entry point (``port``); its URL and pid. Stopped on the way out. Its Go runtime is the shipped one
    (deploy/traefik.env)."""
    (tmp / "traefik.yaml").write_text(json.dumps(static))
    process = subprocess.Popen(
        [str(TRAEFIK), f"--configFile={tmp / 'traefik.yaml'}"], env={**os.environ, **traefik_runtime_env()}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"Traefik did not come up: {(tmp / 'traefik.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextlib.contextmanager
def _traefik(backend: str, tmp: Path, *, bare: bool) -> Iterator[tuple[str, int]]:
    if not TRAEFIK.exists():
        raise SystemExit(f"Traefik is missing ({TRAEFIK}): run `make deploy-tools`")
    middlewares, chain = ({}, []) if bare else _chart_chain()
    port, api = free_port(), free_port()
    router: dict[str, Any] = {"rule": "PathPrefix(`/`)", "entryPoints": ["web"], "service": "app"}
    http: dict[str, Any] = {
        "routers": {"todostack": router},
        "services": {"app": {"loadBalancer": {"servers": [{"url": backend}]}}},
    }
    if chain:  # Traefik refuses an empty middlewares map
        router["middlewares"] = chain
        http["middlewares"] = middlewares
    dynamic = {"http": http}
    (tmp / "dynamic.yaml").write_text(json.dumps(dynamic))
    static = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{port}", "http": {"aliasHeadersStrategy": "delete"}},
            "traefik": {"address": f"127.0.0.1:{api}"},
        },
        "api": {"insecure": True},
        "providers": {"file": {"filename": str(tmp / "dynamic.yaml")}},
        "log": {"level": "ERROR", "filePath": str(tmp / "traefik.log")},
        # Counted per request as deploy/compose.yaml ships it (`--metrics.prometheus=true`); no access log there.
        "metrics": {"prometheus": {}},
    }
    with run_traefik(tmp, static, port, "/healthz") as running:
        yield running


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return round(int(status["VmHWM"].split()[0]) / 1024, 1)


def _traefik_version() -> str:
    done = subprocess.run([str(TRAEFIK), "version"], capture_output=True, text=True, check=False, timeout=30)
    for line in done.stdout.splitlines():
        if line.lower().startswith("version:"):
            return line.split(":", 1)[1].strip()
    return "(unknown version)"
