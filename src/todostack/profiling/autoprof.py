"""Everything profiling in one worker: the watcher, the peer socket, on-demand profiles."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from todostack.observability.alerts import Alert
from todostack.observability.metrics import Metrics
from todostack.profiling.heap import HeapTracking
from todostack.profiling.ondemand import OnDemand
from todostack.profiling.peers import PeerServer
from todostack.profiling.profiler import Profiler
from todostack.profiling.reporters import AlertReporter, DirectoryReporter, Reporter, WebhookReporter
from todostack.profiling.usage import LagProbe
from todostack.profiling.watcher import Watcher
from todostack.runtime.profiling_settings import ProfilingSettings

__all__ = ["Autoprof"]

log = logging.getLogger("todostack.autoprof")


class Autoprof:
    """Everything profiling in one worker: the watcher, the peer socket, on-demand profiles."""

    def __init__(
        self,
        settings: ProfilingSettings,
        *,
        metrics: Metrics | None = None,
        publish_alert: Callable[[Alert], object] | None = None,
        workers: int = 1,
        peers_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.workers = workers
        self.profiler = Profiler(
            hz=settings.cpu_hz,
            heap=HeapTracking(frames=settings.tracemalloc_frames, arm_ratio=settings.heap_arm_ratio),
        )
        self.peers_dir = peers_dir
        self.on_demand = OnDemand(self.profiler, self.peers_dir)
        self._publish_alert = publish_alert
        self.watcher: Watcher | None = None
        self._peer: PeerServer | None = None

    def reporters(self, loop: asyncio.AbstractEventLoop) -> list[Reporter]:
        s = self.settings
        reporters: list[Reporter] = [DirectoryReporter(Path(s.directory), keep=s.keep_reports)]
        if s.webhook_url:
            reporters.append(WebhookReporter(s.webhook_url, s.report_timeout_seconds))
        publish = self._publish_alert
        if publish is not None:

            def threadsafe(alert: Alert) -> None:
                loop.call_soon_threadsafe(publish, alert)

            reporters.append(AlertReporter(threadsafe))
        return reporters

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the worker, on its event loop's thread."""
        self.profiler.stopping.clear()
        self.profiler.watch_loop(loop)
        if self.peers_dir is not None:
            try:
                self._peer = PeerServer(self.peers_dir, self.profiler)
                self._peer.start()
            except OSError as exc:
                log.warning("autoprof: no profile socket for this worker (%s): ?pid= cannot reach it", exc)
        if not self.settings.enabled:
            return
        self.watcher = Watcher(
            self.settings,
            self.profiler,
            self.reporters(loop),
            workers=self.workers,
            lag=LagProbe(loop),
            metrics=self.metrics,
        )
        self.profiler.heap_tracking.update(None)
        self.watcher.start()

    def stop(self) -> None:
        """On the loop's thread: also gives SIGPROF back (only the main thread may)."""
        self.profiler.stopping.set()
        self.profiler.main_thread.uninstall()
        if self.watcher is not None:
            self.watcher.stop()
        if self._peer is not None:
            self._peer.stop()
        self.profiler.heap_tracking.stop()
