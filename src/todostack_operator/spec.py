"""The `TodoStack` spec and status, declared once: the CRD's schema is generated from these structs.

Field names are the resource's own (camelCase on the wire, via `rename="camel"`). Bounds and patterns live in
`Meta` annotations so that the API server (through the generated CRD) and the operator (through `parse_spec`)
refuse the same bad values.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CONFIG_NAME = r"^TODOSTACK_[A-Z0-9_]+$"
DURATION = r"^[0-9]+(ms|s|m|h)$"

Name = Annotated[str, Meta(pattern=DNS_LABEL, min_length=1, max_length=63)]
Quantity = Annotated[str, Meta(pattern=QUANTITY)]


class _Struct(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    pass


class SecretKeyRef(_Struct):
    """A key of a Secret in the TodoStack's namespace."""

    name: Annotated[Name, Meta(description="the Secret's name")]
    key: Annotated[str, Meta(min_length=1, description="the key inside the Secret")]


class Database(_Struct):
    """Where the service's database is: its URL is read from a Secret, never written into the resource."""

    url_secret: Annotated[SecretKeyRef, Meta(description="the Secret key holding TODOSTACK_DATABASE_URL")]


class ResourceAmounts(_Struct):
    """CPU and memory amounts, as Kubernetes quantities."""

    cpu: Quantity | None = None
    memory: Quantity | None = None


class Resources(_Struct):
    """The API container's requests and limits."""

    requests: ResourceAmounts = msgspec.field(default_factory=ResourceAmounts)
    limits: ResourceAmounts = msgspec.field(default_factory=ResourceAmounts)


class Autoscaling(_Struct):
    """A HorizontalPodAutoscaler on CPU; when set, it owns the replica count."""

    min_replicas: Annotated[int, Meta(ge=1, le=1000)] = 2
    max_replicas: Annotated[int, Meta(ge=1, le=1000)] = 10
    target_cpu_utilization_percentage: Annotated[int, Meta(ge=1, le=100)] = 70


class ConfigVar(_Struct):
    """One TODOSTACK_* setting of the service."""

    name: Annotated[str, Meta(pattern=CONFIG_NAME, description="a TODOSTACK_* variable name")]
    value: str


class Retry(_Struct):
    """Traefik's retry middleware (network errors only: the service answers 503 when it sheds load)."""

    attempts: Annotated[int, Meta(ge=1, le=10)] = 3
    initial_interval: Annotated[str, Meta(pattern=DURATION)] = "100ms"


class RateLimit(_Struct):
    """Traefik's rateLimit middleware: requests per second per client, and the burst above it."""

    average: Annotated[int, Meta(ge=1)] = 100
    burst: Annotated[int, Meta(ge=1)] = 200


class CircuitBreaker(_Struct):
    """Traefik's circuitBreaker middleware."""

    expression: Annotated[str, Meta(min_length=1)] = "ResponseCodeRatio(500, 600, 0, 600) > 0.30"


class MiddlewareRef(_Struct):
    """A Traefik Middleware that exists already (not managed by the operator)."""

    name: Name
    namespace: Name | None = None


class Middlewares(_Struct):
    """The Traefik middlewares the operator creates in front of the API, in this order."""

    retry: Retry | None = None
    rate_limit: RateLimit | None = None
    security_headers: bool = True
    circuit_breaker: CircuitBreaker | None = None
    extra: list[MiddlewareRef] = msgspec.field(default_factory=list)


class Ingress(_Struct):
    """A Traefik IngressRoute for the stack's host."""

    host: Annotated[str, Meta(pattern=HOSTNAME, max_length=253, description="the public host name")]
    entry_points: list[Annotated[str, Meta(min_length=1)]] = msgspec.field(default_factory=lambda: ["websecure"])
    tls_secret_name: Name | None = None
    middlewares: Middlewares = msgspec.field(default_factory=Middlewares)


class ServiceMonitor(_Struct):
    """A Prometheus Operator ServiceMonitor scraping the service's /metrics."""

    enabled: bool = True
    interval: Annotated[str, Meta(pattern=DURATION)] = "30s"
    namespace: Annotated[
        Name | None,
        Meta(
            description="where the ServiceMonitor goes (default: the TodoStack's namespace; elsewhere it is "
            "not owned, and the finalizer deletes it)"
        ),
    ] = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)


class Observability(_Struct):
    """Where traces and metrics go."""

    otlp_endpoint: Annotated[str | None, Meta(description="OTEL_EXPORTER_OTLP_ENDPOINT of the service")] = None
    service_monitor: ServiceMonitor | None = None


class DisruptionBudget(_Struct):
    """A PodDisruptionBudget: minAvailable when set, else maxUnavailable."""

    enabled: bool = True
    min_available: Annotated[int, Meta(ge=0)] | None = None
    max_unavailable: Annotated[int, Meta(ge=1)] = 1


class Rollout(_Struct):
    """How long a new image may take to become Available before the operator rolls it back."""

    progress_deadline_seconds: Annotated[int, Meta(ge=1, le=86400)] = 600
    migration_backoff_limit: Annotated[int, Meta(ge=0, le=10)] = 2


class TodoStackSpec(_Struct):
    """The desired Todo Stack: image, size, configuration, edge and observability."""

    image: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=512,
            pattern=r"^[^\s]+$",
            description="the service image, by digest (repo@sha256:...) or by tag",
        ),
    ]
    database: Database
    replicas: Annotated[int, Meta(ge=1, le=1000, description="ignored when autoscaling is set")] = 2
    autoscaling: Autoscaling | None = None
    resources: Resources = msgspec.field(default_factory=Resources)
    secret_key: Annotated[SecretKeyRef | None, Meta(description="the Secret key holding TODOSTACK_SECRET_KEY")] = None
    config: list[ConfigVar] = msgspec.field(default_factory=list)
    ingress: Ingress | None = None
    observability: Observability = msgspec.field(default_factory=Observability)
    disruption_budget: DisruptionBudget = msgspec.field(default_factory=DisruptionBudget)
    rollout: Rollout = msgspec.field(default_factory=Rollout)


class Condition(_Struct):
    """A status condition, as Kubernetes' metav1.Condition."""

    type: str
    status: Annotated[str, Meta(pattern=r"^(True|False|Unknown)$")]
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int = 0


class TodoStackStatus(_Struct):
    """What the operator observed and did (kopf keeps its own bookkeeping here too)."""

    conditions: list[Condition] = msgspec.field(default_factory=list)
    observed_generation: int = 0
    serving_image: str | None = None
    last_available_image: str | None = None
    migrated_digest: str | None = None
    rolled_back_image: str | None = None
    rollout_started_at: str | None = None


class InvalidSpec(ValueError):
    """The resource's spec does not satisfy the schema (or a rule the schema cannot say)."""


def parse_spec(raw: Any) -> TodoStackSpec:
    """Turn a resource's spec (a dict from the API) into a `TodoStackSpec`, or raise `InvalidSpec` naming the field."""
    try:
        spec = msgspec.convert(raw, TodoStackSpec)
    except msgspec.ValidationError as exc:
        raise InvalidSpec(str(exc)) from None
    if spec.autoscaling is not None and spec.autoscaling.min_replicas > spec.autoscaling.max_replicas:
        raise InvalidSpec("autoscaling.minReplicas is above autoscaling.maxReplicas")
    names = [var.name for var in spec.config]
    if len(set(names)) != len(names):
        raise InvalidSpec("config names a variable twice")
    return spec


def parse_status(raw: Any) -> TodoStackStatus:
    """The operator's own part of a resource's status (unknown keys, e.g. kopf's, are ignored)."""
    fields = {f.encode_name for f in msgspec.structs.fields(TodoStackStatus)}
    mine = {key: value for key, value in (raw or {}).items() if key in fields}
    try:
        return msgspec.convert(mine, TodoStackStatus)
    except msgspec.ValidationError:
        return TodoStackStatus()
