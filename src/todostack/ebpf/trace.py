"""``todostack trace <script> --pid PID``: run one of ``scripts/*.bt`` against a worker.

Checks first, and says in one line what is missing: root (bpftrace loads BPF programs), bpftrace
itself, tracefs (mounted here when it is not: a new machine has it unmounted), the pid. Then runs
``bpftrace -p PID script.bt PID`` (``-p`` lets the USDT probes find the worker's library and raise
their semaphores in that process only; ``$1`` is the pid the scripts filter tracepoints and uprobes
on) until ``--seconds`` pass or Ctrl-C, when bpftrace prints its maps. For ``runqueue`` the
worker's cgroup CPU throttling over the same window is printed after bpftrace's output.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from todostack.ebpf.throttling import cpu_stat, throttling_line

__all__ = [
    "SCRIPTS",
    "TraceError",
    "Tracer",
    "add_arguments",
    "command",
    "cpu_stat",
    "libpython",
    "main",
    "preflight",
    "scripts",
]

SCRIPTS = Path(__file__).resolve().with_name("scripts")
TRACEFS = Path("/sys/kernel/tracing")
_NOISE = "couldn't set RLIMIT_MEMLOCK"  # bpftrace 0.17 always says it here; harmless


class TraceError(Exception):
    """One line: what is missing and how to get it."""


def scripts() -> dict[str, Path]:
    return {path.stem: path for path in sorted(SCRIPTS.glob("*.bt"))}


def _describe(path: Path) -> str:
    """A script's question: its first comment line."""
    for line in path.read_text().splitlines():
        if line.startswith("//"):
            return line.lstrip("/ ").strip().rstrip(".")
    return ""


def _tracefs_mounted() -> bool:
    return (TRACEFS / "events").is_dir()


def preflight(pid: int | None = None) -> str:
    """The bpftrace binary, after checking root, tracefs (mounting it) and the pid; else ``TraceError``."""
    bpftrace = shutil.which("bpftrace") or ("/usr/bin/bpftrace" if os.path.exists("/usr/bin/bpftrace") else None)
    if bpftrace is None:
        raise TraceError("bpftrace is not installed: `make bpftrace` (as root) or apt-get install -y bpftrace")
    if os.geteuid() != 0:
        raise TraceError("tracing needs root (bpftrace loads BPF programs): run it with sudo")
    if not _tracefs_mounted():
        done = subprocess.run(  # noqa: S603
            ["mount", "-t", "tracefs", "tracefs", str(TRACEFS)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not _tracefs_mounted():
            raise TraceError(f"tracefs is not mounted and mounting it failed: {done.stderr.strip() or 'no events'}")
    if pid is not None and not Path(f"/proc/{pid}").exists():
        raise TraceError(f"no process {pid}: give a worker's pid (todostack serve's children)")
    return bpftrace


def libpython(pid: int) -> str | None:
    """The libpython the process has mapped (the GC script's uprobes go there), or None (static build)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            path = line.rstrip("\n").split(maxsplit=5)[-1]
            if "/libpython3" in path and ".so" in path:
                return path
    return None


def command(script: str, pid: int, bpftrace: str = "bpftrace") -> list[str]:
    """The bpftrace command line for ``script`` (a name in ``scripts()``) against ``pid``."""
    path = scripts()[script]
    if script != "gc":
        return [bpftrace, "-p", str(pid), str(path), str(pid)]
    library = libpython(pid)
    if library is None:
        raise TraceError(f"process {pid} maps no libpython (a static build): no GC uprobes to attach")
    # bpftrace takes no variable in a probe's path: the library's path goes into the text.
    return [bpftrace, "-p", str(pid), "-e", path.read_text().replace("LIBPYTHON", library), str(pid)]


class Tracer:
    """A running bpftrace: started, attached (its BEGIN line seen), stopped with SIGINT, output kept.

    A thread reads bpftrace's output line by line as it comes (``lines``), so a caller can wait
    for a line while it runs, and the pipe never fills.
    """

    def __init__(self, process: subprocess.Popen[str], echo: IO[str] | None = None) -> None:
        self.process = process
        self.echo = echo
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="bpftrace-output", daemon=True)
        self._reader.start()

    @classmethod
    @contextlib.contextmanager
    def run(cls, script: str, pid: int, *, attach_timeout: float = 60, echo: IO[str] | None = None) -> Iterator[Tracer]:
        argv = command(script, pid, preflight(pid))
        env = {**os.environ, "BPFTRACE_STRLEN": "64"}
        process = subprocess.Popen(  # noqa: S603
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        tracer = cls(process, echo)
        try:
            # BEGIN runs once every probe is attached; each script's BEGIN prints "Tracing ...".
            if not tracer.wait_for(lambda line: line.startswith("Tracing"), attach_timeout):
                raise TraceError(f"bpftrace did not attach within {attach_timeout:g} s:\n{tracer.text}")
            yield tracer
        finally:
            tracer.stop()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            if self.echo is not None and _NOISE not in line:
                self.echo.write(line)
                self.echo.flush()
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, match: Callable[[str], bool], timeout: float) -> str | None:
        """The first line ``match`` accepts, waiting up to ``timeout`` s (None: not seen, or bpftrace ended)."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if match(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    return None
                self._changed.wait(min(left, 0.5))

    def stop(self, timeout: float = 60) -> str:
        """SIGINT (bpftrace prints its maps and runs END), then everything it wrote."""
        for _ in range(3):  # a SIGINT bpftrace gets while still attaching can be lost: say it again
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout / 3)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout)
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()
        return self.text

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = scripts()
    parser.add_argument(
        "script",
        choices=sorted(names),
        metavar="script",
        help="; ".join(f"{name}: {_describe(path)}" for name, path in names.items()),
    )
    parser.add_argument("--pid", type=int, required=True, help="the worker's pid (a child of todostack serve)")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")


def main(args: argparse.Namespace) -> int:
    """The ``todostack trace`` command: bpftrace's output as it comes, ``--seconds`` counted once attached."""
    path = scripts()[args.script]
    before = cpu_stat(args.pid) if args.script == "runqueue" else None
    print(f"# {path.name}: {_describe(path)}", file=sys.stderr, flush=True)
    try:
        with Tracer.run(args.script, args.pid, attach_timeout=180, echo=sys.stdout) as tracer:
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            try:
                while tracer.process.poll() is None and (deadline is None or time.monotonic() < deadline):
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        tracer.process.wait(timeout=0.2)
            except KeyboardInterrupt:
                pass  # bpftrace got the same SIGINT from the terminal; stop() makes sure
    except TraceError as exc:
        print(f"todostack trace: {exc}", file=sys.stderr)
        return 1
    if args.script == "runqueue":
        print(throttling_line(args.pid, before), flush=True)
    code = tracer.process.returncode
    return 0 if code in (0, -signal.SIGINT) else code
