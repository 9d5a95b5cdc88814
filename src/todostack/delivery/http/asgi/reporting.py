"""What happens after each request: one access log line, metrics, and alerts on bad patterns."""

from __future__ import annotations

from todostack.delivery.http.asgi.scope import Finished
from todostack.ebpf import probes
from todostack.observability.alerts import Alert, AlertQueue, BurstDetector
from todostack.observability.logs import AccessLog
from todostack.observability.metrics import Metrics

__all__ = ["RequestReporter"]


class RequestReporter:
    """``on_done`` for the request scope middleware."""

    def __init__(self, metrics: Metrics, alerts: AlertQueue, access_log: AccessLog) -> None:
        self.metrics = metrics
        self.alerts = alerts
        self._errors = BurstDetector(threshold=10, window_seconds=60)
        self._shed = BurstDetector(threshold=20, window_seconds=60)
        self._log = access_log

    def __call__(self, done: Finished) -> None:
        # Never the raw path as a label: any URL a client makes up would become a new series.
        route = done.route or "unmatched"
        cause = done.cause.value if done.cause is not None else None
        self.metrics.observe_request(done.method, route, done.status, done.duration_seconds, cause)
        probes.request_done(done.method, route, done.status, done.duration_seconds, cause, done.request_id)
        # One line per request. Never headers, cookies or bodies: nothing secret can reach it.
        self._log(
            {
                "method": done.method,
                "route": route,
                "path": done.path,
                "client": done.client,
                "status": done.status,
                "duration_ms": round(done.duration_seconds * 1000, 2),
                "request_id": done.request_id,
                "trace_id": done.trace_id,
                "span_id": done.span_id,
                "cause": cause,
            }
        )
        if done.status >= 500 and done.status != 503 and self._errors.hit():
            self._alert(Alert("errors_burst", "10 or more server errors within a minute", {"last": done.path}))
        elif done.status == 503 and done.cause is not None and self._shed.hit():
            self._alert(Alert("load_shed", f"20 or more requests refused within a minute ({done.cause.value})"))

    def _alert(self, alert: Alert) -> None:
        self.metrics.alerts.labels(alert.kind).inc()
        if not self.alerts.publish(alert):
            self.metrics.alerts_dropped.inc()
