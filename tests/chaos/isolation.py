"""Places of the test's own to break things in: a network namespace joined to the host by a veth
pair (packet loss with iptables, a bandwidth cap with tbf; the kernel has no netem), and cgroup v1
cpu and memory groups with limits (a CPU hog and memory pressure with stress-ng).

Nothing here touches the host's own interfaces, firewall or cgroups beyond what it creates.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CgroupV1", "NetNamespace"]


def _run(*args: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")


@dataclass
class NetNamespace:
    """``ns`` with ``10.213.N.2/30`` on its end of a veth pair; the host's end is ``10.213.N.1``."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    subnet: int = field(default_factory=lambda: 1 + int(uuid.uuid4().hex[:4], 16) % 250)

    @property
    def name(self) -> str:
        return f"tschaos-{self.tag}"

    @property
    def host_if(self) -> str:
        return f"tsc{self.tag}h"

    @property
    def inner_if(self) -> str:
        return f"tsc{self.tag}n"

    @property
    def host_ip(self) -> str:
        return f"10.213.{self.subnet}.1"

    @property
    def inner_ip(self) -> str:
        return f"10.213.{self.subnet}.2"

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def create(self) -> None:
        _run("ip", "netns", "add", self.name)
        _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.inner_if)
        _run("ip", "link", "set", self.inner_if, "netns", self.name)
        _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _run("ip", "link", "set", self.host_if, "up")
        inside = self.exec_prefix()
        # tbf misbehaves on lo's 64 KiB MTU: 1500 first (DEPLOY-FACTS).
        _run(*inside, "ip", "link", "set", "lo", "mtu", "1500", "up")
        _run(*inside, "ip", "addr", "add", f"{self.inner_ip}/30", "dev", self.inner_if)
        _run(*inside, "ip", "link", "set", self.inner_if, "mtu", "1500", "up")

    def drop_port(self, port: int, probability: float) -> None:
        """Drop this share of the packets to and from ``port`` on the host's end, both ways (the
        service's database link, not its clients)."""
        for chain, flag, direction in (("OUTPUT", "-o", "--dport"), ("INPUT", "-i", "--sport")):
            _run(
                *self.exec_prefix(), "iptables", "-A", chain, flag, self.inner_if, "-p", "tcp", direction, str(port),
                "-m", "statistic", "--mode", "random", "--probability", str(probability), "-j", "DROP",
            )  # fmt: skip

    def limit_rate(self, rate: str = "256kbit") -> None:
        _run(
            *self.exec_prefix(), "tc", "qdisc", "add", "dev", self.inner_if, "root",
            "tbf", "rate", rate, "burst", "16kbit", "latency", "400ms",
        )  # fmt: skip

    def heal(self) -> None:
        with contextlib.suppress(RuntimeError):
            _run(*self.exec_prefix(), "iptables", "-F")
        with contextlib.suppress(RuntimeError):
            _run(*self.exec_prefix(), "tc", "qdisc", "del", "dev", self.inner_if, "root")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            _run("ip", "link", "del", self.host_if)  # takes its peer with it
        with contextlib.suppress(RuntimeError):
            _run("ip", "netns", "del", self.name)


@dataclass
class CgroupV1:
    """A cpu and a memory cgroup (v1) of the test's own, with a CPU quota and a memory limit."""

    cpus: float = 1.0
    memory_bytes: int = 768 * 1024 * 1024
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    root: Path = Path("/sys/fs/cgroup")

    @property
    def name(self) -> str:
        return f"todostack-chaos-{self.tag}"

    @property
    def cpu(self) -> Path:
        return self.root / "cpu" / self.name

    @property
    def memory(self) -> Path:
        return self.root / "memory" / self.name

    @staticmethod
    def available() -> bool:
        root = Path("/sys/fs/cgroup")
        return (root / "cpu" / "cpu.cfs_quota_us").exists() and (root / "memory" / "memory.limit_in_bytes").exists()

    def create(self) -> None:
        self.cpu.mkdir()
        self.memory.mkdir()
        period = 100_000
        (self.cpu / "cpu.cfs_period_us").write_text(str(period))
        (self.cpu / "cpu.cfs_quota_us").write_text(str(int(self.cpus * period)))
        (self.memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))

    def exec_prefix(self) -> list[str]:
        """A wrapper that joins both groups, then execs the command (same pid, so no extra process)."""
        join = f'echo $$ > {self.cpu}/cgroup.procs && echo $$ > {self.memory}/cgroup.procs && exec "$@"'
        return ["sh", "-c", join, "sh"]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for group in (self.cpu, self.memory):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (group / "cgroup.procs").read_text().split())
        return sorted(found)

    def oom_kills(self) -> int:
        for line in (self.memory / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def cpu_stat(self) -> dict[str, int]:
        """``nr_periods`` (periods with something runnable in the group), ``nr_throttled``..."""
        return {k: int(v) for k, v in (line.split() for line in (self.cpu / "cpu.stat").read_text().splitlines())}

    def destroy(self) -> None:
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():  # only what the test started in its own groups
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for group in (self.cpu, self.memory):
            with contextlib.suppress(OSError):
                group.rmdir()
