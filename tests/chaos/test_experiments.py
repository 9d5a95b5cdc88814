"""The experiments: each breaks one thing under a writer load and checks the invariants
(``tests/chaos/experiment.py``). Each stays within 30 s; its journal goes to ``var/chaos/``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.chaos.conftest import WRITE_BUDGET, PgService, need_root, pg_view, sqlite_view
from tests.chaos.experiment import Activity, Expect, Experiment
from tests.chaos.isolation import CgroupV1, NetNamespace
from tests.chaos.load import sign_up
from tests.chaos.pgcluster import PrivateCluster
from tests.chaos.proxy import FaultProxy
from tests.chaos.sut import Sut

MakeSut = Callable[..., Sut]
# A killed process is replaced by a fresh Python process, whose start a busy 2-core machine can
# stretch past the 2 s that apply once a database comes back.
PROCESS_RESPAWN = 10.0
# Experiments that kill or stop the server and start it again themselves.
RESTARTED = Expect(
    WRITE_BUDGET, connection_errors=True, readyz_bound=False, restarts=1, recovery_seconds=PROCESS_RESPAWN
)


def _verdict(experiment: Experiment) -> None:
    broken = experiment.run()
    seen = experiment.journal["measurements"]
    assert not broken, f"{experiment.name}: {broken}\nclients saw {seen['clients_saw']}\n{experiment.sut.tail(3000)}"


# -- processes of the service ----------------------------------------------------------------------


def test_kill_9_one_worker_then_the_other(pg_service: PgService) -> None:
    sut = pg_service.sut
    first: list[int] = []

    def kill_first() -> int:
        first.append(sut.kill_worker(0))
        return first[0]

    def kill_second() -> int:
        survivors = [p for p in sut.worker_pids() if p not in first]
        os.kill(survivors[0], signal.SIGKILL)
        return survivors[0]

    _verdict(
        Experiment(
            "kill-worker",
            "kill -9 one worker, then the other",
            sut,
            pg_view(pg_service.pg_url),
            method=[
                Activity("kill-9-first-worker", kill_first),
                Activity("wait-respawn", lambda: sut.wait_workers(2, besides=set(first)), pause_after=1),
                Activity("kill-9-second-worker", kill_second),
                Activity("wait-respawn-again", lambda: sut.wait_workers(2), pause_after=1),
            ],
            rollbacks=[],
            expect=Expect(WRITE_BUDGET, connection_errors=True, readyz_bound=False, recovery_seconds=PROCESS_RESPAWN),
        )
    )


def test_kill_9_the_main_process_and_start_again(pg_service: PgService) -> None:
    sut = pg_service.sut
    _verdict(
        Experiment(
            "kill-main",
            "kill -9 the server's main process, then start it again",
            sut,
            pg_view(pg_service.pg_url),
            method=[Activity("kill-9-main-process", sut.kill_main, pause_after=0.5)],
            rollbacks=[Activity("start-the-server-again", sut.start)],
            expect=Expect(
                WRITE_BUDGET, connection_errors=True, readyz_bound=False, restarts=1, recovery_seconds=PROCESS_RESPAWN
            ),
        )
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_sigterm_under_write_load(
    backend: str, request: pytest.FixtureRequest, make_sut: MakeSut, tmp_path: Path
) -> None:
    if backend == "postgresql":
        service: PgService = request.getfixturevalue("pg_service")
        sut, view = service.sut, pg_view(service.pg_url)
    else:
        sut = make_sut(f"sqlite:///{tmp_path}/sigterm.db")
        sut.start()
        view = sqlite_view(tmp_path / "sigterm.db")
    exits: list[int] = []

    def sigterm_and_wait() -> int:
        sut.terminate()
        exits.append(sut.wait_exit(30))
        return exits[0]

    _verdict(
        Experiment(
            f"sigterm-{backend}",
            f"SIGTERM under write load ({backend})",
            sut,
            view,
            method=[Activity("sigterm-main-process", sigterm_and_wait)],
            rollbacks=[Activity("start-the-server-again", sut.start)],
            expect=Expect(
                WRITE_BUDGET, connection_errors=True, readyz_bound=False, restarts=1, recovery_seconds=PROCESS_RESPAWN
            ),
        )
    )
    assert exits == [0]


def test_sqlite_kill_9_every_process_and_start_again_on_the_same_file(make_sut: MakeSut, tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    sut = make_sut(f"sqlite:///{path}")
    sut.start()
    _verdict(
        Experiment(
            "sqlite-kill-all",
            "SQLite: kill -9 of every process of the server at once, then start again on the same file",
            sut,
            sqlite_view(path),
            method=[Activity("kill-9-every-process", sut.kill_all, pause_after=0.5)],
            rollbacks=[Activity("start-on-the-same-file", sut.start)],
            expect=Expect(
                WRITE_BUDGET, connection_errors=True, readyz_bound=False, restarts=1, recovery_seconds=PROCESS_RESPAWN
            ),
        )
    )
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- PostgreSQL --------------------------------------------------------------------------------------


def test_postgres_immediate_stop_then_start(pg_service: PgService, cluster: PrivateCluster) -> None:
    sut = pg_service.sut
    _verdict(
        Experiment(
            "pg-crash",
            "PostgreSQL crash (immediate stop), 4 s down, start again",
            sut,
            pg_view(pg_service.pg_url),
            method=[Activity("pg-immediate-stop", lambda: cluster.stop("immediate"), pause_after=4)],
            rollbacks=[Activity("pg-start", cluster.start)],
            expect=Expect(WRITE_BUDGET),
        )
    )


def test_postgres_down_and_a_worker_dies_meanwhile(pg_service: PgService, cluster: PrivateCluster) -> None:
    sut = pg_service.sut
    killed: list[int] = []

    def kill_worker() -> int:
        killed.append(sut.kill_worker(0))
        return killed[0]

    def server_still_up() -> list[int]:
        assert sut.process is not None
        assert sut.process.poll() is None, f"the server exited ({sut.process.returncode})"
        return sut.wait_workers(2, besides=set(killed))

    _verdict(
        Experiment(
            "pg-down-worker-dies",
            "PostgreSQL down and a worker dies meanwhile (twice)",
            sut,
            pg_view(pg_service.pg_url),
            method=[
                Activity("pg-immediate-stop", lambda: cluster.stop("immediate"), pause_after=0.5),
                Activity("kill-9-a-worker", kill_worker),
                Activity("the-server-stays-up", server_still_up, pause_after=1),
                Activity("kill-9-a-worker-again", kill_worker),
                Activity("the-server-stays-up-again", server_still_up, pause_after=1),
            ],
            rollbacks=[Activity("pg-start", cluster.start)],
            expect=Expect(WRITE_BUDGET, connection_errors=True, readyz_bound=False),
        )
    )


def test_postgres_postmaster_kill_9(pg_service: PgService, cluster: PrivateCluster) -> None:
    sut = pg_service.sut
    _verdict(
        Experiment(
            "pg-kill-9",
            "kill -9 of the PostgreSQL postmaster, 2 s down, start again (crash recovery)",
            sut,
            pg_view(pg_service.pg_url),
            method=[Activity("kill-9-postmaster", cluster.kill_postmaster, pause_after=2)],
            rollbacks=[Activity("pg-start", cluster.start)],
            expect=Expect(WRITE_BUDGET),
        )
    )


def test_postgres_hung_by_sigstop(pg_service: PgService, cluster: PrivateCluster) -> None:
    sut = pg_service.sut
    _verdict(
        Experiment(
            "pg-sigstop",
            "PostgreSQL hung (SIGSTOP of the postmaster and backends) for 5 s",
            sut,
            pg_view(pg_service.pg_url),
            method=[Activity("sigstop-postgres", cluster.freeze, pause_after=5)],
            rollbacks=[Activity("sigcont-postgres", cluster.resume)],
            expect=Expect(WRITE_BUDGET),
        )
    )


class SlotHog:
    """Holds every free connection slot of a cluster, from a thread with its own event loop (the
    connections must be closed by the loop that opened them)."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self.held = 0
        self._taken = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)
        self._error: BaseException | None = None

    def take(self) -> int:
        self._thread.start()
        if not self._taken.wait(30) or self._error is not None:
            raise RuntimeError(f"could not take the slots: {self._error!r}")
        return self.held

    def release(self) -> None:
        self._release.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=30)

    async def _hold(self) -> None:
        held: list[asyncpg.Connection] = []
        try:
            await self._take_every_slot(held)
        except (OSError, asyncpg.PostgresError) as exc:
            self._error = exc
        finally:
            self.held = len(held)
            self._taken.set()
        while not self._release.is_set():
            await asyncio.sleep(0.05)
        for conn in held:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)

    async def _take_every_slot(self, held: list[asyncpg.Connection]) -> None:
        """Open connections until the server refuses, then cut the service's own and take those too."""
        while True:
            try:
                held.append(await asyncpg.connect(self.url, timeout=5))
            except asyncpg.TooManyConnectionsError:
                break
        await held[0].execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            self.database,
        )
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                held.append(await asyncpg.connect(self.url, timeout=5))
            except asyncpg.TooManyConnectionsError:
                await asyncio.sleep(0.05)


def test_postgres_max_connections_exhausted(pg_service: PgService, cluster: PrivateCluster) -> None:
    sut = pg_service.sut
    hog = SlotHog(cluster.url(), pg_service.pg_url.rsplit("/", 1)[1])
    killed: list[int] = []

    def kill_worker() -> int:
        killed.append(sut.kill_worker(0))
        return killed[0]

    try:
        _verdict(
            Experiment(
                "pg-max-connections",
                "PostgreSQL max_connections exhausted; a worker restarts while no slot is free",
                sut,
                pg_view(pg_service.pg_url),
                method=[
                    Activity("take-every-slot", hog.take),
                    Activity("kill-9-a-worker", kill_worker),
                    Activity("a-fresh-worker-starts", lambda: sut.wait_workers(2, besides=set(killed)), pause_after=3),
                ],
                rollbacks=[Activity("free-the-slots", hog.release)],
                expect=Expect(WRITE_BUDGET, connection_errors=True, readyz_bound=False),
            )
        )
    finally:
        hog.release()


# -- the network between service and database --------------------------------------------------------


def test_proxy_latency_jitter_bandwidth_and_resets(pg_service: PgService) -> None:
    sut, proxy = pg_service.sut, pg_service.proxy
    _verdict(
        Experiment(
            "proxy-toxics",
            "DB link: +50 ms +-40 ms per chunk, then 32 KiB/s, then every connection reset twice",
            sut,
            pg_view(pg_service.pg_url),
            method=[
                Activity("latency-50ms-jitter-40ms", lambda: proxy.set(latency=0.05, jitter=0.04), pause_after=3),
                Activity(
                    "bandwidth-32KiB", lambda: proxy.set(latency=0.0, jitter=0.0, bandwidth=32 * 1024), pause_after=3
                ),
                Activity("heal-bandwidth", proxy.heal),
                Activity("reset-every-connection", proxy.reset_all, pause_after=1),
                Activity("reset-every-connection-again", proxy.reset_all, pause_after=1),
            ],
            rollbacks=[Activity("heal", proxy.heal)],
            expect=Expect(WRITE_BUDGET),
        )
    )


def test_proxy_slow_then_black_holed_link(pg_service: PgService) -> None:
    sut, proxy = pg_service.sut, pg_service.proxy
    _verdict(
        Experiment(
            "proxy-blackhole",
            "DB link: +300 ms per chunk for 3 s, then black-holed for 8 s, then healed",
            sut,
            pg_view(pg_service.pg_url),
            method=[
                Activity("latency-300ms", lambda: proxy.set(latency=0.3), pause_after=3),
                Activity("black-hole", lambda: proxy.set(latency=0.0, blackhole=True), pause_after=8),
            ],
            rollbacks=[Activity("heal", proxy.heal)],
            expect=Expect(WRITE_BUDGET),
        )
    )


# -- the disk -----------------------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    need_root()
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> int:
    """Fill the filesystem to the last byte; returns the bytes written."""
    written = 0
    with (folder / "filler").open("wb", buffering=0) as out:  # unbuffered: no flush left to fail on close
        block = b"\0" * (256 * 1024)
        with contextlib.suppress(OSError):
            while True:
                written += out.write(block) or 0
        with contextlib.suppress(OSError):
            while True:
                written += out.write(b"\0" * 512) or 0
    return written


def test_sqlite_on_a_full_disk(small_tmpfs: Path, make_sut: MakeSut) -> None:
    path = small_tmpfs / "full.db"
    sut = make_sut(f"sqlite:///{path}")
    sut.start()
    token = sign_up(sut.url)  # signing up writes: before the disk fills
    reads: list[int] = []

    def a_read_works() -> int:
        with httpx.Client(base_url=sut.url, timeout=5) as http:
            reads.append(http.get("/api/v1/todos", headers={"Authorization": f"Bearer {token}"}).status_code)
        return reads[-1]

    _verdict(
        Experiment(
            "sqlite-disk-full",
            "SQLite's filesystem full for 4 s, then space freed",
            sut,
            sqlite_view(path),
            method=[
                Activity("fill-the-disk", lambda: _fill(small_tmpfs), pause_after=2),
                Activity("a-read-while-full", a_read_works, pause_after=2),
            ],
            rollbacks=[Activity("free-the-space", lambda: (small_tmpfs / "filler").unlink())],
            expect=Expect(WRITE_BUDGET, statuses=frozenset({503, 504, 507})),
        )
    )
    assert reads == [200]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- packets, CPU and memory ----------------------------------------------------------------------------


@pytest.fixture
def namespace() -> Iterator[NetNamespace]:
    need_root()
    ns = NetNamespace()
    ns.create()
    try:
        yield ns
    finally:
        ns.destroy()


def test_packet_loss_and_a_slow_link_to_the_database(
    pg_url: str, cluster: PrivateCluster, namespace: NetNamespace, make_sut: MakeSut
) -> None:
    # The service runs in the namespace; its database link leaves through the veth to a proxy on
    # the host's end (PostgreSQL itself listens on 127.0.0.1 only).
    with FaultProxy("127.0.0.1", cluster.port, listen_host=namespace.host_ip) as relay:
        database_url = pg_url.replace(f"127.0.0.1:{cluster.port}", f"{namespace.host_ip}:{relay.port}")
        sut = make_sut(database_url, host=namespace.inner_ip, prefix=namespace.exec_prefix())
        sut.start()
        _verdict(
            Experiment(
                "netns-packet-loss",
                "DB link in a network namespace: 30 % of its packets dropped (iptables) for 5 s, then 1 Mbit/s (tbf)",
                sut,
                pg_view(pg_url),
                method=[
                    Activity("drop-30-percent", lambda: namespace.drop_port(relay.port, 0.3), pause_after=5),
                    Activity("stop-dropping", namespace.heal),
                    Activity("tbf-1mbit", lambda: namespace.limit_rate("1mbit"), pause_after=3),
                ],
                rollbacks=[Activity("heal", namespace.heal)],
                expect=Expect(WRITE_BUDGET),
            )
        )


@pytest.fixture
def cgroup() -> Iterator[CgroupV1]:
    need_root()
    if not CgroupV1.available():
        pytest.skip("SKIPPING: no cgroup v1 cpu and memory controllers here")
    group = CgroupV1(cpus=1.0, memory_bytes=768 * 1024 * 1024)
    group.create()
    try:
        yield group
    finally:
        group.destroy()


def _stress(group: CgroupV1, *args: str) -> subprocess.Popen[bytes]:
    if shutil.which("stress-ng") is None:
        raise RuntimeError("stress-ng is not installed (make chaos-tools)")
    return subprocess.Popen(
        [*group.exec_prefix(), "stress-ng", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_a_cpu_hog_in_the_services_cgroup(pg_url: str, cgroup: CgroupV1, make_sut: MakeSut) -> None:
    sut = make_sut(pg_url, prefix=cgroup.exec_prefix())
    sut.start()
    hogs: list[subprocess.Popen[bytes]] = []
    stats: list[dict[str, int]] = []

    def hog() -> int:
        stats.append(cgroup.cpu_stat())
        hogs.append(_stress(cgroup, "--cpu", "2", "--cpu-load", "100", "--timeout", "6s"))
        return hogs[0].pid

    def hog_done() -> dict[str, int]:
        code = hogs[0].wait(timeout=20)
        stats.append(cgroup.cpu_stat())
        return {"stress_ng_exit": code, **{k: stats[1][k] - stats[0][k] for k in ("nr_periods", "nr_throttled")}}

    _verdict(
        Experiment(
            "cgroup-cpu-hog",
            "CPU hog (stress-ng, 2 busy loops) beside the service in its cgroup (1 CPU quota) for 6 s",
            sut,
            pg_view(pg_url),
            method=[Activity("stress-ng-cpu", hog, pause_after=6)],
            rollbacks=[Activity("hog-done", hog_done)],
            expect=Expect(WRITE_BUDGET),
        )
    )
    # The hog ran in the group (how often the quota throttled depends on what else the machine runs).
    assert hogs[0].returncode == 0
    assert stats[1]["nr_periods"] > stats[0]["nr_periods"]


def test_memory_pressure_in_the_services_cgroup(pg_url: str, cgroup: CgroupV1, make_sut: MakeSut) -> None:
    sut = make_sut(pg_url, prefix=cgroup.exec_prefix())
    sut.start()
    hogs: list[subprocess.Popen[bytes]] = []

    def pressure() -> int:
        hogs.append(_stress(cgroup, "--vm", "1", "--vm-bytes", "700M", "--vm-keep", "--timeout", "6s"))
        return hogs[0].pid

    def pressure_done() -> dict[str, int]:
        code = hogs[0].wait(timeout=30)
        return {"stress_ng_exit": code, "oom_kills": cgroup.oom_kills()}

    _verdict(
        Experiment(
            "cgroup-memory-pressure",
            "Memory pressure (stress-ng, 700 MiB) beside the service in its cgroup (768 MiB limit) for 6 s",
            sut,
            pg_view(pg_url),
            method=[Activity("stress-ng-vm", pressure, pause_after=6)],
            rollbacks=[Activity("pressure-done", pressure_done)],
            # The kernel's OOM killer may pick a worker: a process killed, on purpose in effect.
            # Before its first kill the kernel may reclaim for seconds, and every process in the
            # group stands still meanwhile: once 5 s, with one OOM kill in the 6 s (a clean-clone
            # CI run; other runs: 1-18 kills, nothing over 0.3 s). The service cannot answer while
            # stopped; bounded by the pressure's length, it must still answer nothing but a 201,
            # a 503 or a 504 (a 408 then blamed the client for our stall), lose nothing, recover.
            expect=Expect(WRITE_BUDGET, connection_errors=True, stall_seconds=6.0),
        )
    )
