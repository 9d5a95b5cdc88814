"""``todostack bench`` end to end, tiny: the scenarios run, every answer is a 2xx, the report renders."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx

from tests.pg import fresh_schema, require_postgres, run_sync
from tests.server import FAST_HASHING
from todostack.bench.run import _migrate
from todostack.bench.seed import seed
from todostack.bench.servers import serve_baseline, serve_todostack


def test_a_tiny_bench_run_has_no_errors_and_writes_its_report(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nWritten by hand, kept.\n")
    command = [
        sys.executable,
        "-m",
        "todostack",
        "bench",
        "--backends=sqlite",
        "--scenarios=get-one,list,create,patch,mixed,todobackend-list",
        "--connections=8",
        "--duration=1",
        "--warmup=0.3",
        "--sqlite-repeats=1",
        "--users=2",
        "--todos=30",
        "--workers=1",
        "--label=smoke",
        f"--results-dir={tmp_path}",
        f"--docs={docs}",
        f"--log-dir={tmp_path / 'logs'}",
    ]
    done = subprocess.run(command, env={**os.environ, **FAST_HASHING}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [results_file] = tmp_path.glob("*-smoke.json")
    results = json.loads(results_file.read_text())
    runs = results["runs"]
    assert {r["scenario"] for r in runs} == {"get-one", "list", "create", "patch", "mixed", "todobackend-list"}
    for run in runs:
        assert run["requests"] > 0, run
        assert (run["errors"], run["non_2xx"]) == (0, 0), run  # PATCH with a right If-Match every time
        assert run["worker_hwm_mib"], run
        assert run["non_2xx_statuses"] == {}, run  # the service counted no answer outside 2xx either
        assert run["p99_ms"] <= run["p999_ms"] <= run["max_ms"], run
        assert run["co_corrected"] is False, run  # Debian's wrk is closed-loop: the report says so
    assert results["cold_start_seconds"]["sqlite"] > 0
    report = docs.read_text()
    assert "Written by hand, kept." in report
    assert "| sqlite | patch | 8 |" in report
    assert "todostack bench --backends=sqlite" in report


def test_the_raw_floor_runs_in_turn_with_the_services_get_one(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "todostack",
        "bench",
        "--backends=postgresql",
        f"--postgres-url={require_postgres()}",
        "--scenarios=get-one,list,create",
        "--connections=8,16",
        "--duration=1",
        "--warmup=0.3",
        "--repeats=2",
        "--users=2",
        "--todos=10",
        "--workers=1",
        "--label=floor",
        f"--results-dir={tmp_path}",
        "--docs=-",
    ]
    done = subprocess.run(command, env={**os.environ, **FAST_HASHING}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [results_file] = tmp_path.glob("*-floor.json")
    runs = json.loads(results_file.read_text())["runs"]
    # Each scenario's floor and the service alternate at the first connection count, so both see
    # the same machine.
    order = [(r["scenario"], r["target"], r["connections"], r["repeat"]) for r in runs]
    expected = []
    for scenario in ("get-one", "list", "create"):
        for repeat in (1, 2):
            expected += [(scenario, "baseline_raw", 8, repeat), (scenario, "todostack", 8, repeat)]
        expected += [(scenario, "todostack", 16, 1), (scenario, "todostack", 16, 2)]
    assert order == expected
    # The floor answers the same requests as the service, authenticated, and every one is a 2xx.
    assert all(r["non_2xx"] == 0 for r in runs), [(r["scenario"], r["target"], r["non_2xx"]) for r in runs]
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in runs), runs


def test_a_tiny_scale_run_measures_every_scenario_at_every_size_on_both_backends(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n")
    admin, database = require_postgres(), f"ts_scale_{uuid.uuid4().hex[:10]}"
    command = [
        sys.executable,
        "-m",
        "todostack",
        "bench",
        "--scale",
        f"--postgres-url={admin}",
        f"--scale-database={database}",  # never the one a real run may be using
        "--backends=postgresql,sqlite",
        "--sizes=3000,6000,30000",
        "--sqlite-scale-max=6000",
        "--heavy-todos=1000",
        "--scale-users=50",
        "--connections=4",
        "--duration=1",
        "--warmup=0.3",
        "--repeats=1",
        "--workers=1",
        f"--results-dir={tmp_path}",
        f"--docs={docs}",
    ]
    sizes = {"postgresql": (3000, 6000, 30000), "sqlite": (3000, 6000)}  # SQLite only up to --sqlite-scale-max
    try:
        done = subprocess.run(command, env={**os.environ, **FAST_HASHING}, capture_output=True, text=True, timeout=600)
    finally:
        for rows in sizes["postgresql"]:  # one database per size, left for EXPLAIN after a real run
            run_sync(_drop(admin, f"{database}_{rows}"))
    assert done.returncode == 0, done.stderr
    [results_file] = tmp_path.glob("*-scale.json")
    runs = json.loads(results_file.read_text())["runs"]
    scenarios = ("get-one", "list-first", "list-deep", "search", "create", "patch")
    # Within each scenario the sizes take turns, so that a ratio of two sizes compares runs made
    # close together rather than the two ends of a long run.
    order = [(r["backend"], r["scenario"], r["rows"]) for r in runs]
    assert order == [(backend, s, rows) for backend, rows_ in sizes.items() for s in scenarios for rows in rows_]
    for run in runs:
        assert run["requests"] > 0, run
        assert (run["errors"], run["non_2xx"]) == (0, 0), run
    # 30,000 rows take the bulk path (indexes dropped and rebuilt). Autovacuum runs during the
    # measurement are counted on PostgreSQL only.
    sized = json.loads(results_file.read_text())["sizes"]
    assert [s["autovacuums"] for s in sized if s["backend"] == "sqlite"] == [None, None]
    report = docs.read_text()
    assert "The sizes took turns" in report
    assert "| `list-deep` |" in report
    assert "p99 30,000 ÷ 3,000" in report  # PostgreSQL's table
    assert "p99 6,000 ÷ 3,000" in report  # SQLite's
    assert "todos      " not in report  # the progress bar goes to stderr, not the report


async def _drop(admin: str, database: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        await conn.close()


def test_the_floor_numbers_the_changes_of_its_creates_as_the_service_does(tmp_path: Path) -> None:
    """The create trigger writes a change the service's sequencer numbers; the floor numbers its
    own too, so that the service's next round is not charged for the floor's rows."""
    baseline = Path(__file__).resolve().parents[2] / "bench" / "baseline_raw.py"
    with fresh_schema() as url:
        _migrate(url)
        with serve_todostack(url, tmp_path / "service.log", workers=1, extra=FAST_HASHING) as service:
            token, _, _ = run_sync(seed(service.url, users=1, todos_per_user=2)).users[0]
        with serve_baseline(
            url, tmp_path / "floor.log", workers=1, pool_size=2, loop="uvloop", baseline=baseline
        ) as floor:
            for n in range(5):
                answer = httpx.post(
                    f"{floor.url}/api/v1/todos",
                    headers={"Authorization": f"Bearer {token}"},
                    content=json.dumps({"title": f"floor {n}"}).encode(),
                    timeout=10,
                )
                assert answer.status_code == 201, answer.text
            run_sync(_all_numbered(url, created=5))


async def _all_numbered(url: str, *, created: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM changes WHERE kind = 'created' AND entity = 'todo'") >= created
        for _ in range(100):
            if not await conn.fetchval("SELECT count(*) FROM changes WHERE id IS NULL"):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the floor left its creates' changes unnumbered")
    finally:
        await conn.close()
