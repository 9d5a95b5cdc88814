"""Where reports go: a directory, a Slack-compatible webhook, the service's alert queue.

Each reporter runs in the watcher's thread with its own timeout (the webhook's HTTP timeout; the
others do not block), and a failure is logged and counted, never raised: requests never notice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from todostack.observability.alerts import Alert
from todostack.profiling.report import Report

__all__ = ["AlertReporter", "DirectoryReporter", "Reporter", "WebhookReporter", "report_files"]

log = logging.getLogger("todostack.autoprof")


class Reporter(Protocol):
    name: str

    def send(self, report: Report) -> None: ...


def report_files(directory: Path) -> list[Path]:
    """The summaries (``report.*.json``) in ``directory``, oldest first."""
    return sorted(directory.glob("report.*.json"), key=lambda p: (p.stat().st_mtime, p.name))


class DirectoryReporter:
    name = "directory"

    def __init__(self, directory: Path, keep: int = 50) -> None:
        self.directory = directory
        self.keep = keep

    def send(self, report: Report) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        written = []
        for item in report.files():
            self._write(item.name, item.content)
            written.append(item.name)
        summary = report.summary() | {"files": written}
        self._write(report.summary_name, json.dumps(summary, indent=2).encode())
        self._prune()

    def _write(self, name: str, content: bytes) -> None:
        # Whole files only: a reader (or a crash) never sees half a profile.
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, self.directory / name)

    def _prune(self) -> None:
        reports = report_files(self.directory)
        for old in reports[: max(0, len(reports) - self.keep)]:
            try:
                files = json.loads(old.read_text()).get("files", [])
            except (OSError, ValueError):
                files = []
            for name in [*files, old.name]:
                (self.directory / Path(name).name).unlink(missing_ok=True)


class WebhookReporter:
    name = "webhook"

    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout_seconds

    def send(self, report: Report) -> None:
        import httpx  # only where a webhook is set (see observability.alerts)

        payload = {"text": report.as_text(), "todostack": report.summary()}
        response = httpx.post(self.url, json=payload, timeout=self.timeout)
        response.raise_for_status()


class AlertReporter:
    """Hands the report to the alert queue (which lives on the event loop: ``publish`` is given
    as a thread-safe callable by the wiring)."""

    name = "alerts"

    def __init__(self, publish: Callable[[Alert], None]) -> None:
        self.publish = publish

    def send(self, report: Report) -> None:
        details = {"metric": report.breach.metric, "value": f"{report.breach.value:.3f}"}
        details["threshold"] = f"{report.breach.threshold:g}"
        for i, row in enumerate(report.top_frames(), 1):
            details[f"top{i}"] = row.function
        self.publish(Alert("autoprof", report.breach.describe(), details))
