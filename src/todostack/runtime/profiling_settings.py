"""autoprof's settings: threshold-triggered profiles (``TODOSTACK_AUTOPROF_*``) and ``/debug/pprof``."""

from __future__ import annotations

from dataclasses import dataclass

from todostack.runtime.declare import number, on_off, setting, switch, text, whole

__all__ = ["ProfilingSettings"]

_P = "TODOSTACK_AUTOPROF_"
_RATIO = "a number between 0 and 1"
_SHARE = "a number between 0 and 1 (0: off)"


@dataclass(frozen=True, slots=True)
class ProfilingSettings:
    """See docs/profiling.md."""

    enabled: bool = setting(_P + "ENABLED", True, "threshold-triggered profiles", switch, show=on_off)
    interval_seconds: float = setting(
        _P + "INTERVAL_SECONDS", 5.0, "how often usage is checked", number(0.05, 3600), show=repr
    )
    window_checks: int = setting(
        _P + "WINDOW_CHECKS", 24, "CPU usage is averaged over this many checks", whole(1, 10_000)
    )
    cpu_threshold: float = setting(
        _P + "CPU_THRESHOLD", 0.75, "CPU share that triggers a profile", number(0, 1, _RATIO, above_low=True), show=repr
    )
    memory_threshold: float = setting(
        _P + "MEMORY_THRESHOLD",
        0.75,
        "memory share that triggers a profile",
        number(0, 1, _RATIO, above_low=True),
        show=repr,
    )
    lag_threshold_seconds: float = setting(
        _P + "LAG_THRESHOLD_SECONDS", 0.5, "event-loop lag that triggers a profile; 0: off", number(0, 3600), show=repr
    )
    throttle_threshold: float = setting(
        _P + "THROTTLE_THRESHOLD",
        0.5,
        "share of CPU periods throttled over the window; 0: off",
        number(0, 1, _SHARE),
        show=repr,
    )
    suppress_checks: int = setting(
        _P + "SUPPRESS_CHECKS", 12, "after a report, stay quiet this many checks", whole(0, 100_000)
    )
    checks_in_a_row: int = setting(
        _P + "CHECKS_IN_A_ROW", 1, "checks over the threshold before the first report", whole(1, 10_000)
    )
    lag_checks_in_a_row: int = setting(
        _P + "LAG_CHECKS_IN_A_ROW",
        3,
        "checks with event-loop lag over its threshold before a report: one stall of the whole machine is not one",
        whole(1, 10_000),
    )
    cpu_seconds: float = setting(_P + "CPU_SECONDS", 10.0, "length of a CPU profile", number(0.1, 600), show=repr)
    cpu_hz: int = setting(
        _P + "CPU_HZ",
        50,
        "CPU samples per second while a profile runs (what it costs: docs/benchmarks.md)",
        whole(1, 1000),
    )
    directory: str = setting(_P + "DIR", "var/profiles", "where reports go", text)
    webhook_url: str | None = setting(_P + "WEBHOOK_URL", None, "Slack-compatible webhook for reports", text)
    report_timeout_seconds: float = setting(
        _P + "REPORT_TIMEOUT_SECONDS", 5.0, "longest a report's delivery may take", number(0.1, 600), show=repr
    )
    tracemalloc_frames: int = setting(_P + "TRACEMALLOC_FRAMES", 1, "frames per heap sample", whole(1, 100))
    heap_arm_ratio: float = setting(
        _P + "HEAP_ARM_RATIO",
        0.5,
        "tracemalloc starts at this share of the memory threshold; 0: always",
        number(0, 1, _SHARE),
        show=repr,
    )
    keep_reports: int = setting(_P + "KEEP", 50, "older reports are deleted from the directory", whole(1, 100_000))
    admin_token: str | None = setting(
        "TODOSTACK_ADMIN_TOKEN",
        None,
        "turns on `/debug/pprof/*` for `Authorization: Bearer <token>` (404 without it)",
        text,
    )
