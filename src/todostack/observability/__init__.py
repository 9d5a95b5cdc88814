"""Alerts, metrics, traces and request logging."""

# Where prometheus_client's multiprocess mode keeps each worker's samples. Here, not in
# ``metrics``: ``serve`` must set it before anything imports prometheus_client.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
