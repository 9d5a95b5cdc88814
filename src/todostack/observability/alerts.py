"""The alert queue: operational alerts delivered to a Slack-compatible webhook.

``publish`` never waits: the queue is bounded, and when it is full the alert is dropped and
counted. One background task per worker delivers them, each POST with its own timeout, retrying
with exponential backoff. Nothing here can slow a request down, and a dead receiver only costs
dropped alerts. Without a webhook URL alerts are only logged.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_FIELD_CHARS", "MAX_TEXT_CHARS", "Alert", "AlertQueue", "AlertStats", "BurstDetector", "run_alert_queue"]

log = logging.getLogger("todostack.alerts")

# Alerts quote what clients sent (paths, methods, messages). Slack reads "<...>" as links and
# mentions ("<!channel>", "<https://evil|click here>") and "&" as an entity: its own rule is to
# escape exactly these three. Line breaks would let a value forge lines of its own.
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": " ", "\r": " ", "\t": " "})
MAX_FIELD_CHARS = 300  # one quoted value, before escaping
MAX_TEXT_CHARS = 3000  # the whole message: Slack cuts a section's text there
_CUT = "…"


def _quoted(value: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``value`` shortened to ``limit`` characters and escaped for Slack's mrkdwn."""
    if len(value) > limit:
        value = value[: limit - 1] + _CUT
    return value.translate(_SLACK_ESCAPES)


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # e.g. "errors_burst", "load_shed", "memory_guard", "autoprof"
    summary: str
    details: dict[str, str] = field(default_factory=dict)

    def as_slack(self, service: str) -> dict[str, object]:
        """Slack's message payload: every quoted text escaped and bounded, the whole text too."""
        host, pid = socket.gethostname(), os.getpid()
        kind = _quoted(self.kind).replace("`", "'")
        lines = [f"*{_quoted(service)}* `{kind}` on {_quoted(host)} (pid {pid}): {_quoted(self.summary)}"]
        lines += [f"• {_quoted(key)}: {_quoted(value)}" for key, value in self.details.items()]
        text = "\n".join(lines)
        if len(text) > MAX_TEXT_CHARS:
            # Cut at a line end where one is near, never inside an escape ("&amp;").
            cut = text.rfind("\n", 0, MAX_TEXT_CHARS - len(_CUT))
            text = text[: cut if cut > 0 else MAX_TEXT_CHARS - len(_CUT)]
            amp = text.rfind("&")
            if amp != -1 and ";" not in text[amp:]:
                text = text[:amp]
            text += _CUT
        return {"text": text}


@dataclass(slots=True)
class AlertStats:
    published: int = 0
    delivered: int = 0
    dropped: int = 0  # the queue was full
    failed: int = 0  # every attempt failed


class AlertQueue:
    def __init__(
        self,
        webhook_url: str | None,
        *,
        capacity: int = 100,
        timeout_seconds: float = 5.0,
        attempts: int = 4,
        backoff_seconds: float = 0.5,
        service: str = "todostack",
    ) -> None:
        self.webhook_url = webhook_url
        self.timeout_seconds = timeout_seconds
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.service = service
        self.stats = AlertStats()
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=capacity)

    def publish(self, alert: Alert) -> bool:
        """Queue ``alert`` without waiting; ``False`` if it was dropped because the queue is full."""
        self.stats.published += 1
        log.warning("alert %s: %s %s", alert.kind, alert.summary, alert.details or "")
        if self.webhook_url is None:
            return True
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            return False
        return True

    async def deliver_forever(self) -> None:
        # Imported here, only where a webhook is set: httpx brings its command line (click, rich,
        # pygments) with it, megabytes of every worker's RSS that nothing else uses. In a thread:
        # the first import takes ~0.2 s, too long to hold the event loop.
        httpx = await asyncio.to_thread(importlib.import_module, "httpx")
        async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
            while True:
                alert = await self._queue.get()
                await self._deliver(client, alert)

    async def _deliver(self, client: httpx.AsyncClient, alert: Alert) -> None:
        import httpx

        assert self.webhook_url is not None
        payload = alert.as_slack(self.service)
        delay = self.backoff_seconds
        for attempt in range(1, self.attempts + 1):
            try:
                response = await client.post(self.webhook_url, json=payload)
                if response.status_code < 500 and response.status_code != 429:
                    if response.is_success:
                        self.stats.delivered += 1
                    else:
                        self.stats.failed += 1  # the receiver refuses it: retrying will not help
                        log.error("alert webhook refused %s: HTTP %d", alert.kind, response.status_code)
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt < self.attempts:
                log.info("alert webhook attempt %d failed (%s); retrying in %.1f s", attempt, reason, delay)
                await asyncio.sleep(delay)
                delay *= 2
        self.stats.failed += 1
        log.error("alert %s not delivered after %d attempts", alert.kind, self.attempts)


class BurstDetector:
    """Says when ``threshold`` events fall within ``window`` seconds, then stays quiet for it."""

    def __init__(self, threshold: int, window_seconds: float) -> None:
        self.threshold = threshold
        self.window = window_seconds
        self._times: list[float] = []
        self._quiet_until = 0.0

    def hit(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        cutoff = now - self.window
        while self._times and self._times[0] < cutoff:
            self._times.pop(0)
        if len(self._times) >= self.threshold and now >= self._quiet_until:
            self._quiet_until = now + self.window
            self._times.clear()
            return True
        return False


@asynccontextmanager
async def run_alert_queue(queue: AlertQueue) -> AsyncIterator[AlertQueue]:
    """Deliver ``queue``'s alerts in the background for as long as the block runs."""
    task = asyncio.create_task(queue.deliver_forever(), name="todostack-alerts") if queue.webhook_url else None
    try:
        yield queue
    finally:
        if task is not None:
            task.cancel()
