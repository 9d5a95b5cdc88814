"""The GC watch under prometheus_client's multiprocess lock (a real deadlock found by schemathesis)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import gc
    from todostack.observability.metrics import Metrics
    from todostack.observability.process import GcWatch

    metrics = Metrics()
    watch = GcWatch(metrics)
    watch.start()
    gc.set_threshold(1, 1_000_000, 1_000_000)  # a collection at (nearly) every allocation, inside prometheus's lock too
    for i in range(20_000):
        metrics.requests.labels("GET", f"/r{i % 50}", "200").inc()
    watch.flush()
    families = metrics.exposition().decode()
    assert "todostack_gc_collections_total" in families, families[:500]
    print("done")
    """
)


def test_collections_inside_metric_updates_neither_deadlock_nor_go_uncounted(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"
