"""A worker outlives no server: when the process that started it is gone, it stops itself.

The server's main process supervises its workers: it restarts failed ones and relays SIGTERM.
If that process is killed outright (SIGKILL, the OOM killer, a crash), the kernel hands its
workers to init, and they would go on serving a port nobody supervises: holding memory and
database connections, answering with code that the next deployment replaced, and, in a test
or a benchmark, taking CPU from whatever runs next. (When the server is a container's PID 1 the
kernel ends the whole PID namespace with it, and systemd stops what is left of a unit; started
from a shell, a test or a supervisor that is not init, nothing stops them.)

``todostack serve`` names itself in ``TODOSTACK_SERVER_PID``. A worker watches that process
through a pidfd (Linux 5.3+: the descriptor turns readable when the process exits, so the event
loop wakes then and never before; without pidfds, ``/proc`` is read once a second). A server
already gone when the worker starts (killed while the worker was still importing) counts as
gone, and so does a process that reuses its pid but started after the worker. When the server is
gone, the worker drains the way its memory guard does, and if it has not stopped once the grace
period is over it exits on its own. A process that *is* the server (one uvicorn process) or was
not started by it (tests that build the app in-process) watches nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping

__all__ = ["SERVER_PID_ENV", "running_before_me", "server_to_watch", "watch_server"]

SERVER_PID_ENV = "TODOSTACK_SERVER_PID"

log = logging.getLogger("todostack.runtime")


def server_to_watch(environ: Mapping[str, str], pid: int) -> int | None:
    """The server process this worker should not outlive, or None: nothing to watch.

    Only ``todostack serve`` and what it starts have ``TODOSTACK_SERVER_PID``, and the server
    itself does not watch itself."""
    raw = environ.get(SERVER_PID_ENV, "")
    if not raw.isdigit() or int(raw) == pid:
        return None
    return int(raw)


def running_before_me(pid: int) -> bool:
    """``pid`` is a running process (not a zombie) that started before this one: the server
    that started this worker, not a later process that reuses its pid."""
    try:
        theirs = _stat(pid)
        mine = _stat(os.getpid())
    except (OSError, ValueError, IndexError):
        return False
    return theirs[0] not in "ZXx" and theirs[1] <= mine[1]


def _stat(pid: int) -> tuple[str, int]:
    """(state, start time in clock ticks) from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0].decode(), int(fields[19])


async def watch_server(
    server: int,
    *,
    drain: Callable[[], None],
    exit_after: float,
    every: float = 1.0,
    running: Callable[[int], bool] = running_before_me,
    hard_exit: Callable[[int], object] = os._exit,
    use_pidfd: bool = True,
) -> None:
    """Wait until ``server`` has exited (at once if it already has), then ``drain``; if the worker
    is still running ``exit_after`` seconds later (a stop that never came), ``hard_exit(70)``.

    A graceful stop ends the worker's lifespan, which cancels this task before that."""
    await _gone(server, every, running, use_pidfd)
    log.warning("the server process (pid %d) is gone: this worker drains and stops", server)
    drain()
    await asyncio.sleep(exit_after)
    log.error("still running %.0f s after the server process went away: exiting now", exit_after)
    hard_exit(70)


async def _gone(server: int, every: float, running: Callable[[int], bool], use_pidfd: bool) -> None:
    if not running(server):  # gone before this worker got as far as watching it
        return
    fd = None
    if use_pidfd and hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(server)
        except OSError:  # gone meanwhile (ESRCH), or no pidfds here (ENOSYS): poll
            fd = None
    if fd is None:
        while running(server):  # noqa: ASYNC110 - no event to wait on without a pidfd
            await asyncio.sleep(every)
        return
    try:
        if not running(server):  # it went (and its pid may be reused) before the pidfd was open
            return
        loop = asyncio.get_running_loop()
        exited = asyncio.Event()
        loop.add_reader(fd, exited.set)
        try:
            await exited.wait()
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)
