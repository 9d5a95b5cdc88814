"""The operator's own settings, from the environment only (12-factor), declared once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """An environment variable holds a value the operator cannot use."""


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """How the operator runs. Each field is a `TODOSTACK_OPERATOR_*` variable (see docs/operator.md)."""

    namespaces: tuple[str, ...] = ()  # empty: every namespace (cluster-wide)
    resync_seconds: float = 60.0  # the drift timer's interval
    backoff_seconds: float = 1.0  # first retry delay after a transient API error (doubles, capped)
    backoff_max_seconds: float = 60.0
    peering: str | None = None  # a ClusterKopfPeering name: several replicas, one active; None: standalone
    health_port: int = 8081  # kopf's liveness endpoint, /healthz
    metrics_port: int = 8080  # Prometheus /metrics; 0 turns it off
    log_format: str = "json"  # json | plain
    log_level: str = "info"
    server: str | None = None  # a URL without credentials (kubectl proxy, emulators); else in-cluster/kubeconfig
    finalizer: str = "todostack.dev/cleanup"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"TODOSTACK_OPERATOR_{name}", "").strip()
            return value or None

        def number(name: str, default: float, *, minimum: float = 0.0) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"TODOSTACK_OPERATOR_{name} must be a number, not {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"TODOSTACK_OPERATOR_{name} must be at least {minimum}, not {raw!r}")
            return value

        log_format = (get("LOG_FORMAT") or "json").lower()
        if log_format not in ("json", "plain"):
            raise SettingsError(f"TODOSTACK_OPERATOR_LOG_FORMAT must be json or plain, not {log_format!r}")
        namespaces = tuple(ns.strip() for ns in (get("NAMESPACES") or "").split(",") if ns.strip())
        return cls(
            namespaces=namespaces,
            resync_seconds=number("RESYNC_SECONDS", 60.0, minimum=0.1),
            backoff_seconds=number("BACKOFF_SECONDS", 1.0, minimum=0.01),
            backoff_max_seconds=number("BACKOFF_MAX_SECONDS", 60.0, minimum=0.01),
            peering=get("PEERING"),
            health_port=int(number("HEALTH_PORT", 8081)),
            metrics_port=int(number("METRICS_PORT", 8080)),
            log_format=log_format,
            log_level=(get("LOG_LEVEL") or "info").lower(),
            server=get("SERVER"),
        )

    def backoff(self, retry: int) -> float:
        """The delay before retry number `retry` (0-based): exponential, capped."""
        return float(min(self.backoff_max_seconds, self.backoff_seconds * 2 ** min(retry, 30)))
