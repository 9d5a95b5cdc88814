"""Access lines are written in batches, in order, even when stdout is unbuffered."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from todostack.observability import logs
from todostack.observability.logs import AccessLog, LogSink, access_logger, configure_logging


class _CountingRaw(io.RawIOBase):
    """What ``sys.stdout.buffer`` is under ``PYTHONUNBUFFERED=1``: every write reaches the file."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self.writes.append(chunk)
        return len(chunk)


@contextmanager
def _unbuffered_stdout() -> Iterator[tuple[_CountingRaw, LogSink]]:
    # Inside the test body: pytest puts its own capture back in sys.stdout at each phase.
    raw = _CountingRaw()
    saved, sys.stdout = sys.stdout, io.TextIOWrapper(raw, write_through=True)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    sink = configure_logging("info", json=True)
    try:
        yield raw, sink
    finally:
        sink.flush()
        sys.stdout = saved
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level


def test_lines_wait_for_a_flush_and_keep_their_order() -> None:
    with _unbuffered_stdout() as (raw_stdout, sink):
        log = access_logger()
        for n in range(100):
            log.info("request", n=n)
        assert raw_stdout.writes == []  # no write system call per line
        sink.flush()
    lines = b"".join(raw_stdout.writes).splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(100))
    assert len(raw_stdout.writes) == 1


def test_a_standard_library_line_comes_after_the_pending_ones() -> None:
    with _unbuffered_stdout() as (raw_stdout, _):
        access_logger().info("request", n=1)
        logging.getLogger("todostack.test").warning("after the access line")
    events = [json.loads(line)["event"] for line in b"".join(raw_stdout.writes).splitlines()]
    assert events == ["request", "after the access line"]


def test_a_full_batch_is_written_without_waiting() -> None:
    with _unbuffered_stdout() as (raw_stdout, _):
        log = access_logger()
        for n in range(600):  # about 78 KiB: one batch of 64 KiB goes out, the rest waits
            log.info("request", n=n, padding="x" * 40)
        assert len(raw_stdout.writes) == 1
    written = b"".join(raw_stdout.writes).splitlines()
    assert [json.loads(line)["n"] for line in written] == list(range(len(written)))


def test_the_access_line_is_the_one_structlog_would_write() -> None:
    fields = {
        "method": "GET",
        "route": "/api/v1/todos/{todo_id}",
        "path": "/api/v1/todos/x",
        "status": 200,
        "duration_ms": 1.5,
        "request_id": "0f87c03fb29ccf0f",
        "trace_id": None,
        "span_id": None,
        "cause": None,
    }
    with _unbuffered_stdout() as (raw_stdout, sink):
        AccessLog(sink)(dict(fields))
        access_logger().info("request", **fields)
        sink.flush()
    fast, through_structlog = (json.loads(line) for line in b"".join(raw_stdout.writes).splitlines())
    assert list(fast) == list(through_structlog)  # the same keys, in the same order
    assert fast["timestamp"].endswith("Z")
    del fast["timestamp"], through_structlog["timestamp"]
    assert fast == through_structlog


def _down(n: int) -> int:
    # Two functions in turn, as the body walk that logged 190 KiB was (Python folds a frame that
    # repeats itself, not a pair that alternates).
    return _up(n + 1) + 1


def _up(n: int) -> int:
    return _down(n + 1) + 1


def test_a_deep_traceback_is_cut_to_its_ends() -> None:
    try:
        _down(0)
    except RecursionError:
        event = structlog.processors.format_exc_info(None, "error", {"event": "boom", "exc_info": True})
    full = event["exception"]
    assert len(full) > 50_000  # what one request logged before
    bounded = logs.bound_traceback(None, "error", dict(event))["exception"]
    assert len(bounded) < logs.TRACEBACK_HEAD + logs.TRACEBACK_TAIL + 100
    assert bounded.startswith(full[:200])
    assert bounded.endswith("RecursionError: maximum recursion depth exceeded")
    assert "characters cut" in bounded
    short = {"exception": "Traceback (most recent call last):\n  ValueError: x"}
    assert logs.bound_traceback(None, "error", dict(short)) == short
