"""Which of the chart's Traefik middlewares costs what: Traefik's own CPU per GET, one middleware at a time.

The backend is a second Traefik answering its `/ping` (a Go handler that costs next to nothing), so that only
the proxy's work is measured; the number is Traefik's user + system CPU time per request, which a busy shared
machine inflates less than throughput or latency. The chart's middleware specs are rendered by the chart.

    .venv/bin/python bench/edge_middleware_cost.py --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from traefik_launch import _chart_chain, _cpu_seconds, run_traefik  # beside this script

from todostack.bench.servers import free_port

# (label, middlewares of the chain by name suffix, retry override)
CASES: list[tuple[str, list[str], dict[str, Any] | None]] = [
    ("no middleware", [], None),
    ("headers", ["headers"], None),
    ("ratelimit", ["ratelimit"], None),
    ("retry, network errors only", ["retry"], {"status": None}),
    ("retry + status 502, body buffer 2 MiB", ["retry"], {"maxRequestBodyBytes": 2 * 1024 * 1024}),
    ("retry + status 502, body buffer 64 KiB", ["retry"], {"maxRequestBodyBytes": 65536}),
    ("retry + status 502, body buffer 4 KiB (the chart's)", ["retry"], None),
    ("circuitbreaker", ["circuitbreaker"], None),
    ("the chart's chain", ["headers", "ratelimit", "retry", "circuitbreaker"], None),
]


@contextmanager
def _traefik(tmp: Path, dynamic: dict[str, Any], *, ping: bool = False) -> Iterator[tuple[str, int]]:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    static: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {"web": {"address": f"127.0.0.1:{port}"}},
        "log": {"level": "ERROR", "filePath": str(tmp / "traefik.log")},
    }
    if ping:
        static["ping"] = {"entryPoint": "web"}
    else:
        (tmp / "dynamic.yaml").write_text(json.dumps(dynamic))
        static["providers"] = {"file": {"filename": str(tmp / "dynamic.yaml")}}
    with run_traefik(tmp, static, port, "/ping") as running:
        yield running


def _wrk(url: str, connections: int, seconds: float) -> int:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"{url}/ping"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    line = next(line for line in done.stdout.splitlines() if "requests in" in line)
    return int(line.split()[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    middlewares, _ = _chart_chain()
    by_suffix = {name.removeprefix("todostack-"): spec for name, spec in middlewares.items()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="todostack-edge-mw-") as tmp_name:
        tmp = Path(tmp_name)
        with _traefik(tmp / "backend", {}, ping=True) as (backend, _):
            for label, names, retry in CASES:
                specs = {n: json.loads(json.dumps(by_suffix[n])) for n in names}
                for key, value in (retry or {}).items():
                    if value is None:
                        specs["retry"]["retry"].pop(key, None)
                    else:
                        specs["retry"]["retry"][key] = value
                router: dict[str, Any] = {"rule": "PathPrefix(`/`)", "entryPoints": ["web"], "service": "backend"}
                http: dict[str, Any] = {
                    "routers": {"r": router},
                    "services": {"backend": {"loadBalancer": {"servers": [{"url": backend}]}}},
                }
                if specs:
                    router["middlewares"] = list(specs)
                    http["middlewares"] = specs
                with _traefik(tmp / label.replace(" ", "-"), {"http": http}) as (url, pid):
                    _wrk(url, args.connections, 1)  # warm-up
                    before = _cpu_seconds(pid)
                    requests = _wrk(url, args.connections, args.seconds)
                    cpu_ms = (_cpu_seconds(pid) - before) * 1000 / max(1, requests)
                rows.append({"case": label, "requests": requests, "traefik_cpu_ms_per_request": round(cpu_ms, 4)})
                print(f"{label:>34}: {cpu_ms:.3f} ms CPU per request ({requests} requests)", file=sys.stderr)
    print(json.dumps({"load_average": os.getloadavg()[0], "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
