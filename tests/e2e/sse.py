"""A Server-Sent Events reader for tests: a thread reads the stream, events land in a queue."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

__all__ = ["Event", "EventStream"]


@dataclass(frozen=True)
class Event:
    event: str
    id: str | None
    data: str
    retry: int | None = None


@dataclass
class EventStream:
    """``GET path`` as an event stream. ``events`` fills as they arrive; ``comments`` counts
    comment lines (heartbeats); ``ended`` is set when the server ends the stream."""

    http: httpx.Client
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    comments: list[str] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)
    status: int | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    _opened: threading.Event = field(default_factory=threading.Event)
    _response: httpx.Response | None = None

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        if not self._opened.wait(30):
            raise AssertionError(f"{self.path}: no answer within 30 s")

    def _read(self) -> None:
        try:
            with self.http.stream("GET", self.path, headers=dict(self.headers), timeout=httpx.Timeout(60)) as r:
                self._response = r
                self.status = r.status_code
                self._opened.set()
                if r.status_code != 200:
                    return
                fields: dict[str, str] = {}
                for line in r.iter_lines():
                    if line == "":
                        if fields:
                            retry = fields.get("retry")
                            if "data" in fields:
                                self.events.put(
                                    Event(
                                        fields.get("event", "message"),
                                        fields.get("id"),
                                        fields["data"],
                                        None if retry is None else int(retry),
                                    )
                                )
                        fields = {}
                    elif line.startswith(":"):
                        self.comments.append(line[1:].strip())
                    else:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if name == "retry":
                            self.retries.append(int(value))
                        fields[name] = value
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()
            self.ended.set()

    def next(self, timeout: float = 10.0, *, kind: str | None = "change") -> Event:
        """The next event (of ``kind``, skipping others), waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or ''} event within {timeout} s on {self.path}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if kind is None or event.event == kind:
                return event

    def drain(self, seconds: float, *, kind: str = "change") -> list[Event]:
        """Every event of ``kind`` that arrives within ``seconds``."""
        found: list[Event] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if event.event == kind:
                found.append(event)
        return found

    def wait_for(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s on {self.path}")
            time.sleep(0.02)

    def close(self) -> None:
        """End the stream and close its client (each stream is given one of its own)."""
        if self._response is not None:
            self._response.close()
        self.ended.wait(10)
        self.http.close()
