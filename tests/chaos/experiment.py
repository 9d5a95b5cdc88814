"""One chaos experiment: steady state before, a method that breaks something while the writer
load runs, rollbacks, steady state after, the invariants, and a journal in Chaos Toolkit's shape
under ``var/chaos/<name>.json``.

Invariants checked after every experiment:

1. every acknowledged write is readable through the API and present in the database, once;
2. every failed attempt is a 503 or 504 ``application/problem+json`` with a ``cause`` (a 503 with
   ``Retry-After``; a write's 504 says ``"outcome": "unknown"``), or a connection error where the
   method killed a process on purpose: never a 500;
3. no attempt took longer than its budget + 1 s;
4. ``/readyz`` answered within 1 s (+ margin) throughout, unless a process was killed on purpose;
   both bounds stretch by ``Expect.stall_seconds`` where the fault lets the kernel stop the
   service's processes (memory reclaim in their own cgroup), which no code in them can prevent;
5. after the rollbacks the service recovers by itself: ``/readyz`` 200 within the bound, and new
   writes acknowledged, without a restart the method did not make.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.chaos.load import WriterLoad, sign_up
from tests.chaos.sut import Sut

__all__ = ["JOURNALS", "Activity", "Expect", "Experiment", "ledger_check"]

ROOT = Path(__file__).resolve().parents[2]
JOURNALS = ROOT / "var" / "chaos"
READYZ_MARGIN = 0.5  # the client's own clock on a busy machine, on top of the 1 s promise


def _load_ledger_check() -> ModuleType:
    path = ROOT / "deploy" / "chaos" / "ledger_check.py"
    spec = importlib.util.spec_from_file_location("ledger_check", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ledger_check = _load_ledger_check()  # the same check Litmus's cmdProbe runs in the cluster


@dataclass
class Activity:
    name: str
    run: Callable[[], object]
    pause_after: float = 0.0


@dataclass
class Expect:
    budget_seconds: float  # the server's write budget
    connection_errors: bool = False  # a process is killed on purpose: refused/reset connects are expected
    readyz_bound: bool = True  # /readyz answers within 1 s throughout
    recovery_seconds: float = 2.0  # /readyz 200 at most this long after the rollbacks
    restarts: int = 0  # server restarts the method makes itself
    statuses: frozenset[int] = frozenset({503, 504})  # what a failed write may answer (and is retried on)
    # How long the fault may stop the service's processes outright, as the kernel does while it
    # reclaims memory in their cgroup before an OOM kill: latency bounds stretch by this much.
    stall_seconds: float = 0.0


# Looks up what the database holds for these keys: {title: [ids]}.
DatabaseView = Callable[[list[str]], dict[str, list[str]]]


@dataclass
class Experiment:
    name: str
    title: str
    sut: Sut
    database: DatabaseView
    method: list[Activity]
    rollbacks: list[Activity]
    expect: Expect
    writers: int = 4
    warmup_acks: int = 30
    after_acks: int = 30
    probes: list[tuple[float, int | None, float]] = field(default_factory=list)  # (at, status, seconds)
    journal: dict[str, Any] = field(default_factory=dict)

    # -- running --------------------------------------------------------------------------------
    def run(self) -> list[str]:
        """Run it; returns the invariants broken (empty: the hypothesis held). Writes the journal."""
        started = time.time()
        starts_before = self.sut.starts
        before = self._steady_state()
        token = sign_up(self.sut.url)
        load = WriterLoad(
            self.sut.url,
            token,
            writers=self.writers,
            drain_seconds=self.expect.budget_seconds + 10,
            retry_statuses=self.expect.statuses,
        )
        load.start()
        t0 = time.monotonic()
        warmed = load.wait_acks(self.warmup_acks, t0, timeout=20)
        sampling = threading.Event()
        sampler = threading.Thread(target=self._sample_readiness, args=(sampling,), daemon=True)
        sampler.start()
        run_log = self._activities(self.method)
        rolled_back = self._activities(self.rollbacks)
        healed_at = time.monotonic()
        recovery = self._wait_ready(timeout=max(30.0, self.expect.recovery_seconds * 5))
        sampling.set()
        sampler.join(timeout=10)
        recovered = load.wait_acks(self.after_acks, healed_at + (recovery or 0), timeout=20)
        load.stop()
        after = self._steady_state()
        titles = ledger_check.fetch_titles(self.sut.url, token)
        api = ledger_check.check_ledger(load.acknowledged, titles)
        stored = self.database(list(load.acknowledged))
        broken = self._invariants(load, api, stored, recovery, recovered, warmed, starts_before)
        broken += [
            f"the {a['activity']['name']} step failed: {a['output']}"
            for a in run_log + rolled_back
            if a["status"] != "succeeded"
        ]
        self._write_journal(started, before, after, run_log, rolled_back, load, api, stored, recovery, broken)
        return broken

    def _activities(self, activities: list[Activity]) -> list[dict[str, Any]]:
        done = []
        for activity in activities:
            start = time.time()
            status, output = "succeeded", None
            try:
                output = activity.run()
            except Exception as exc:  # noqa: BLE001 - recorded in the journal and failed on below
                status, output = "failed", f"{type(exc).__name__}: {exc}"
            end = time.time()
            done.append(_activity_result(activity.name, status, output, start, end))
            if activity.pause_after:
                time.sleep(activity.pause_after)
        return done

    def _sample_readiness(self, stop: threading.Event) -> None:
        # Waits past the bound, so that an answer the stall allowance excuses is seen as one.
        with httpx.Client(timeout=max(5.0, 2.0 + self.expect.stall_seconds + READYZ_MARGIN)) as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    status: int | None = http.get(f"{self.sut.url}/readyz").status_code
                except httpx.HTTPError:
                    status = None
                self.probes.append((started, status, time.monotonic() - started))
                stop.wait(0.2)

    def _wait_ready(self, timeout: float) -> float | None:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.sut.ready(timeout=2) == 200:
                return time.monotonic() - started
            time.sleep(0.05)
        return None

    def _steady_state(self) -> dict[str, Any]:
        start = time.time()
        ready = self.sut.ready()
        write_status = None
        try:
            token = sign_up(self.sut.url, timeout=15)
            with httpx.Client(base_url=self.sut.url, timeout=10) as http:
                write_status = http.post(
                    "/api/v1/todos", json={"title": "steady state"}, headers={"Authorization": f"Bearer {token}"}
                ).status_code
        except (httpx.HTTPError, RuntimeError):
            pass
        end = time.time()
        probes = [
            _probe_result("readiness", ready, ready == 200, start, end),
            _probe_result("a-write-is-acknowledged", write_status, write_status == 201, start, end),
        ]
        return {"steady_state_met": all(p["tolerance_met"] for p in probes), "probes": probes}

    # -- judging --------------------------------------------------------------------------------
    def _invariants(
        self,
        load: WriterLoad,
        api: dict[str, Any],
        stored: dict[str, list[str]],
        recovery: float | None,
        recovered: bool,
        warmed: bool,
        starts_before: int,
    ) -> list[str]:
        broken = []
        if not warmed:
            broken.append("the load never got going before the fault")
        if api["lost"] or api["duplicates"]:
            broken.append(f"API: {api['lost']} acknowledged writes lost, {api['duplicates']} duplicated")
        missing = [k for k, todo_id in load.acknowledged.items() if todo_id not in stored.get(k, [])]
        doubled = [k for k, ids in stored.items() if len(ids) > 1]
        if missing or doubled:
            broken.append(f"database: {len(missing)} acknowledged writes missing, {len(doubled)} duplicated")
        bad = [a for a in load.attempts if not self._acceptable(a)]
        if bad:
            kinds = sorted({a.label() + (" (not problem+json)" if a.status and not a.problem else "") for a in bad})
            broken.append(f"{len(bad)} attempts failed in a way clients must not see: {kinds[:6]}")
        limit = self.expect.budget_seconds + 1.0 + self.expect.stall_seconds
        late = [a for a in load.attempts if a.status is not None and a.seconds > limit]
        if late:
            worst = max(a.seconds for a in late)
            broken.append(f"{len(late)} requests ran past their budget + 1 s (worst {worst:.1f} s)")
        if self.expect.readyz_bound:
            bound = 1.0 + self.expect.stall_seconds
            slow = [p for p in self.probes if p[1] is None or p[2] > bound + READYZ_MARGIN]
            if slow:
                worst = max(p[2] for p in slow)
                broken.append(f"/readyz did not answer within {bound:g} s {len(slow)} times (worst {worst:.1f} s)")
        if recovery is None:
            broken.append("/readyz never came back to 200 after the rollbacks")
        elif recovery > self.expect.recovery_seconds:
            broken.append(f"/readyz took {recovery:.1f} s to come back (bound {self.expect.recovery_seconds} s)")
        if not recovered:
            broken.append("no new writes were acknowledged after the rollbacks")
        if self.sut.starts - starts_before != self.expect.restarts:
            broken.append("the service needed a restart to recover")
        return broken

    def _acceptable(self, attempt: Any) -> bool:
        if attempt.status == 201:
            return True
        if attempt.status is None:
            return self.expect.connection_errors
        if attempt.status not in self.expect.statuses or not attempt.problem or not attempt.cause:
            return False
        if attempt.status == 503 and attempt.retry_after is None and attempt.cause != "shutdown":
            return False
        return not (attempt.status == 504 and attempt.outcome != "unknown")

    # -- the journal ----------------------------------------------------------------------------
    def _write_journal(
        self,
        started: float,
        before: dict[str, Any],
        after: dict[str, Any],
        run_log: list[dict[str, Any]],
        rolled_back: list[dict[str, Any]],
        load: WriterLoad,
        api: dict[str, Any],
        stored: dict[str, list[str]],
        recovery: float | None,
        broken: list[str],
    ) -> None:
        ended = time.time()
        seen = load.seen()
        readyz = list(self.probes)
        self.journal = {
            "chaoslib-version": "todostack-chaos/1 (Chaos Toolkit journal shape)",
            "platform": platform.platform(),
            "node": platform.node(),
            "experiment": {
                "version": "1.0.0",
                "title": self.title,
                "description": f"chaos experiment {self.name} against `todostack serve` ({self.sut.workers} workers)",
                "tags": ["todostack", "chaos", self.name],
                "steady-state-hypothesis": {
                    "title": "the service is ready and acknowledges a write",
                    "probes": [
                        _probe("readiness", {"type": "http", "url": "/readyz"}, 200),
                        _probe("a-write-is-acknowledged", {"type": "http", "url": "/api/v1/todos"}, 201),
                    ],
                },
                "method": [_action(a) for a in self.method],
                "rollbacks": [_action(a) for a in self.rollbacks],
            },
            "start": _iso(started),
            "end": _iso(ended),
            "duration": round(ended - started, 3),
            "status": "completed" if not broken else "failed",
            "deviated": bool(broken) or not after["steady_state_met"],
            "steady_states": {
                "before": before,
                "after": after,
                "during": [
                    {"at": round(at, 3), "readyz": status, "seconds": round(seconds, 3)}
                    for at, status, seconds in readyz
                ],
            },
            "run": run_log,
            "rollbacks": rolled_back,
            "measurements": {
                "acknowledged": len(load.acknowledged),
                "lost": api["lost"],
                "duplicates": api["duplicates"],
                "in_database": sum(1 for k, v in load.acknowledged.items() if v in stored.get(k, [])),
                "attempts": len(load.attempts),
                "clients_saw": dict(seen.most_common()),
                "slowest_request_seconds": round(max((a.seconds for a in load.attempts), default=0.0), 3),
                "readyz_slowest_seconds": round(max((p[2] for p in readyz), default=0.0), 3),
                "readyz_not_200": sum(1 for p in readyz if p[1] != 200),
                "recovery_seconds": None if recovery is None else round(recovery, 3),
                "broken": broken,
                "verdict": "holds" if not broken else "broken",
            },
        }
        JOURNALS.mkdir(parents=True, exist_ok=True)
        (JOURNALS / f"{self.name}.json").write_text(json.dumps(self.journal, indent=2) + "\n")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def _probe(name: str, provider: dict[str, Any], tolerance: int) -> dict[str, Any]:
    return {"type": "probe", "name": name, "tolerance": tolerance, "provider": provider}


def _action(activity: Activity) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "action",
        "name": activity.name,
        "provider": {"type": "python", "module": "tests.chaos", "func": activity.name},
    }
    if activity.pause_after:
        action["pauses"] = {"after": activity.pause_after}
    return action


def _activity_result(name: str, status: str, output: Any, start: float, end: float) -> dict[str, Any]:
    return {
        "activity": {"type": "action", "name": name},
        "status": status,
        "output": output if isinstance(output, (str, int, float, bool, type(None), list, dict)) else repr(output),
        "start": _iso(start),
        "end": _iso(end),
        "duration": round(end - start, 3),
    }


def _probe_result(name: str, output: Any, met: bool, start: float, end: float) -> dict[str, Any]:
    return {
        "activity": {"type": "probe", "name": name},
        "output": output,
        "status": "succeeded",
        "tolerance_met": met,
        "start": _iso(start),
        "end": _iso(end),
        "duration": round(end - start, 3),
    }
