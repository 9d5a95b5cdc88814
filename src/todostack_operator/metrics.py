"""The operator's own Prometheus metrics, in a registry of their own (no import-time globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass(slots=True)
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=_registry)
    reconciles: Counter = field(init=False)
    duration: Histogram = field(init=False)
    api_errors: Counter = field(init=False)
    drift_repairs: Counter = field(init=False)
    rollbacks: Counter = field(init=False)
    stacks: Gauge = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = Counter(
            "todostack_operator_reconciles", "Reconcile steps, by trigger and result", ["trigger", "result"], registry=r
        )
        self.duration = Histogram(
            "todostack_operator_reconcile_seconds", "Time one reconcile step took", ["trigger"], registry=r
        )
        self.api_errors = Counter(
            "todostack_operator_api_errors",
            "API server refusals, by HTTP status (0: no answer)",
            ["status"],
            registry=r,
        )
        self.drift_repairs = Counter(
            "todostack_operator_drift_repairs", "Children put back after a change behind the operator's back",
            ["kind"], registry=r,
        )  # fmt: skip
        self.rollbacks = Counter(
            "todostack_operator_rollbacks", "Automatic rollbacks to the last Available image", registry=r
        )
        self.stacks = Gauge("todostack_operator_stacks", "TodoStacks this operator instance reconciles", registry=r)
