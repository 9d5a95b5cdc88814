"""The service's USDT probes (provider ``todostack``), fired through ctypes; no-ops when off.

Each function reads its probe's semaphore first, an ``unsigned short`` in the library that the
kernel raises while a tracer is attached to that probe in this process: untraced, a call is one
Python call and one memory read, and no argument is encoded. Traced, the arguments are encoded and
the C function runs the probe (a ``nop`` the kernel turned into a breakpoint).

Nothing happens at import: until ``load`` runs, every semaphore is a constant 0. The service calls
``load`` once per process with its settings (``TODOSTACK_PROBES``, ``TODOSTACK_PROBES_LIB``, read
by ``runtime``; this room imports nothing of the project). Where the library is missing and cannot
be built (no compiler, no ``sys/sdt.h``), or the setting is off, the semaphores stay 0: the
service runs the same, probes off, and says so in one log line.

Probe                 arguments
--------------------  ----------------------------------------------------------------------
request__start        method, path (the route is not matched yet), request id
request__done         method, route, status, duration in µs, cancellation cause ("" if none), request id
db__query__start      system ("postgresql"/"sqlite"), operation ("SELECT", …), table
db__query__done       system, operation, table, duration in µs
autoprof__report      metric, value in thousandths (0.93 of a CPU -> 930)
memory__guard         step ("collected" or "over"), resident bytes after collecting
cancel                cause (``context.Cause`` value)
"""

from __future__ import annotations

import ctypes
import logging
import re
from pathlib import Path
from typing import Any

from todostack.ebpf import build

__all__ = [
    "PROBES",
    "autoprof_report",
    "cancel",
    "db_done",
    "db_start",
    "enabled",
    "library_path",
    "load",
    "memory_guard",
    "request_done",
    "request_start",
    "status",
    "table_of",
]

log = logging.getLogger("todostack.ebpf")

PROBES = (
    "request__start",
    "request__done",
    "db__query__start",
    "db__query__done",
    "autoprof__report",
    "memory__guard",
    "cancel",
)

_STR = ctypes.c_char_p
_I64 = ctypes.c_int64
_SIGNATURES: dict[str, list[Any]] = {
    "todostack_request_start": [_STR, _STR, _STR],
    "todostack_request_done": [_STR, _STR, _I64, _I64, _STR, _STR],
    "todostack_db_query_start": [_STR, _STR, _STR],
    "todostack_db_query_done": [_STR, _STR, _STR, _I64],
    "todostack_autoprof_report": [_STR, _I64],
    "todostack_memory_guard": [_STR, _I64],
    "todostack_cancel": [_STR],
}
_ABI = 1


class _Off:
    """A semaphore nobody can raise: the probes of a process without the library."""

    __slots__ = ()
    value = 0


def _find(enabled: bool, library: str | None) -> tuple[Path | None, str]:
    """The library to load, or None and why not."""
    if not enabled:
        return None, "USDT probes off (TODOSTACK_PROBES=off)"
    if library:
        return Path(library), ""
    name = build.library_name()
    for directory in (build.package_dir(), build.cache_dir()):
        if (directory / name).exists():
            return directory / name, ""
    try:
        return build.build(build.cache_dir()), ""
    except (build.BuildError, OSError) as exc:
        return None, f"USDT probes off: {exc}"
    except Exception as exc:  # noqa: BLE001  # a build going wrong in any way must not stop the service
        return None, f"USDT probes off: building them failed ({exc!r})"


def _open(path: Path) -> tuple[Any, str]:
    try:
        lib = ctypes.CDLL(str(path))
        if lib.todostack_probes_abi() != _ABI:
            return None, f"USDT probes off: {path} was built from another probes.c"
        for function, argtypes in _SIGNATURES.items():
            call = getattr(lib, function)
            call.argtypes = argtypes
            call.restype = None
    except (OSError, AttributeError) as exc:
        return None, f"USDT probes off: cannot load {path} ({exc})"
    return lib, ""


_lib: Any = None
library_path: Path | None = None
_why = "USDT probes not loaded"
_S_REQUEST_START: Any = _Off()
_S_REQUEST_DONE: Any = _Off()
_S_DB_START: Any = _Off()
_S_DB_DONE: Any = _Off()
_S_AUTOPROF: Any = _Off()
_S_MEMORY: Any = _Off()
_S_CANCEL: Any = _Off()
_SEMAPHORES: dict[str, Any] = dict.fromkeys(PROBES, _Off())


def load(enabled: bool = True, library: str | None = None) -> str:
    """Find (or build) and load the library, once per process; the status line (``status()``).

    Later calls change nothing and answer the same line: the semaphores the probes read are the
    ones a tracer may already be holding up.
    """
    global _lib, library_path, _why, _SEMAPHORES
    global _S_REQUEST_START, _S_REQUEST_DONE, _S_DB_START, _S_DB_DONE, _S_AUTOPROF, _S_MEMORY, _S_CANCEL
    if _lib is not None or _why != "USDT probes not loaded":
        return status()
    path, why = _find(enabled, library)
    lib, why = _open(path) if path is not None else (None, why)
    if lib is None:
        _why = why
        log.warning("%s", why)
        return why

    def semaphore(probe: str) -> Any:
        return ctypes.c_ushort.in_dll(lib, f"todostack_{probe}_semaphore")

    _SEMAPHORES = {probe: semaphore(probe) for probe in PROBES}
    _S_REQUEST_START, _S_REQUEST_DONE = _SEMAPHORES["request__start"], _SEMAPHORES["request__done"]
    _S_DB_START, _S_DB_DONE = _SEMAPHORES["db__query__start"], _SEMAPHORES["db__query__done"]
    _S_AUTOPROF, _S_MEMORY = _SEMAPHORES["autoprof__report"], _SEMAPHORES["memory__guard"]
    _S_CANCEL = _SEMAPHORES["cancel"]
    _lib, library_path, _why = lib, path, ""
    log.debug("USDT probes in %s (provider todostack)", path)
    return status()


def status() -> str:
    """One line: where the probes are, or why they are off."""
    return f"USDT probes in {library_path}" if _lib is not None else _why


def enabled(probe: str) -> bool:
    """Whether a tracer is attached to ``probe`` (one of ``PROBES``) in this process right now."""
    return bool(_SEMAPHORES[probe].value)


def _b(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def request_start(method: str, path: str, request_id: str) -> None:
    if _S_REQUEST_START.value:
        _lib.todostack_request_start(_b(method), _b(path), _b(request_id))


def request_done(method: str, route: str, status: int, seconds: float, cause: str | None, request_id: str) -> None:
    if _S_REQUEST_DONE.value:
        _lib.todostack_request_done(_b(method), _b(route), status, int(seconds * 1e6), _b(cause or ""), _b(request_id))


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(\w+)", re.IGNORECASE)
_OPERATION = re.compile(r"\s*(\w+)")
_PARSED: dict[str, tuple[bytes, bytes]] = {}


def table_of(sql: str) -> tuple[str, str]:
    """The statement's operation (its first keyword) and first table, "?" when it names none."""
    operation = _OPERATION.match(sql)
    table = _TABLE.search(sql)
    return (operation.group(1).upper() if operation else "?", table.group(1) if table else "?")


def _parsed(sql: str) -> tuple[bytes, bytes]:
    parsed = _PARSED.get(sql)
    if parsed is None:
        if len(_PARSED) > 512:  # the service's statements are a few dozen constants; never grow without end
            _PARSED.clear()
        operation, table = table_of(sql)
        parsed = _PARSED[sql] = (_b(operation), _b(table))
    return parsed


def db_start(system: str, sql: str) -> None:
    if _S_DB_START.value:
        operation, table = _parsed(sql)
        _lib.todostack_db_query_start(_b(system), operation, table)


def db_done(system: str, sql: str, seconds: float) -> None:
    if _S_DB_DONE.value:
        operation, table = _parsed(sql)
        _lib.todostack_db_query_done(_b(system), operation, table, int(seconds * 1e6))


def autoprof_report(metric: str, value: float) -> None:
    if _S_AUTOPROF.value:
        _lib.todostack_autoprof_report(_b(metric), int(value * 1000))


def memory_guard(step: str, rss: int) -> None:
    if _S_MEMORY.value:
        _lib.todostack_memory_guard(_b(step), rss)


def cancel(cause: str) -> None:
    if _S_CANCEL.value:
        _lib.todostack_cancel(_b(cause))
