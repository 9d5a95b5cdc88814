"""Pure builders of every object a TodoStack owns: no I/O, the same input gives the same object.
The Traefik objects are built in ``edge``, the names and labels in ``naming``; this is the one face.

Every child carries Kubernetes' recommended labels and an owner reference to its TodoStack (a controller
reference, so garbage collection removes it with the stack), except a ServiceMonitor placed in another
namespace: owner references cannot cross namespaces, so the finalizer deletes that one.
"""

from __future__ import annotations

from todostack_operator.edge import ingress_route, middlewares
from todostack_operator.naming import (
    HTTP_PORT,
    METRICS_PORT,
    SERVICE_PORT,
    Manifest,
    Owner,
    image_digest,
    labels,
    selector_labels,
)
from todostack_operator.naming import child_metadata as _metadata
from todostack_operator.spec import TodoStackSpec

__all__ = [
    "autoscaler",
    "deployment",
    "disruption_budget",
    "migration_job",
    "migration_job_name",
    "service",
    "service_monitor",
    "serving_children",
]


def _env(spec: TodoStackSpec) -> list[Manifest]:
    env: list[Manifest] = [
        {"name": "TODOSTACK_ENV", "value": "production"},
        {"name": "TODOSTACK_HOST", "value": "0.0.0.0"},  # noqa: S104 - inside a pod, behind a Service
        {"name": "TODOSTACK_PORT", "value": str(HTTP_PORT)},
        # /metrics on a port of its own: the public port (the one routed to) has none.
        {"name": "TODOSTACK_METRICS_PORT", "value": str(METRICS_PORT)},
        {
            "name": "TODOSTACK_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": spec.database.url_secret.name, "key": spec.database.url_secret.key}},
        },
    ]
    if spec.secret_key is not None:
        ref = {"name": spec.secret_key.name, "key": spec.secret_key.key}
        env.append({"name": "TODOSTACK_SECRET_KEY", "valueFrom": {"secretKeyRef": ref}})
    if spec.observability.otlp_endpoint:
        env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": spec.observability.otlp_endpoint})
    taken = {item["name"] for item in env}
    env.extend({"name": var.name, "value": var.value} for var in spec.config if var.name not in taken)
    return env


def _resources(spec: TodoStackSpec) -> Manifest:
    out: Manifest = {}
    for kind, amounts in (("requests", spec.resources.requests), ("limits", spec.resources.limits)):
        values = {k: v for k, v in (("cpu", amounts.cpu), ("memory", amounts.memory)) if v is not None}
        if values:
            out[kind] = values
    return out


_SECURITY_CONTEXT: Manifest = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def migration_job_name(owner: Owner, image: str) -> str:
    """`<stack>-migrate-<digest12>`, within the 63 characters a Job's pods carry it in a label."""
    return f"{owner.name[:40]}-migrate-{image_digest(image)}"


def migration_job(owner: Owner, spec: TodoStackSpec, image: str) -> Manifest:
    """The Job applying the image's database migrations (`todostack migrate`), once per image digest."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(owner, migration_job_name(owner, image), "migrations", image),
        "spec": {
            "backoffLimit": spec.rollout.migration_backoff_limit,
            "activeDeadlineSeconds": spec.rollout.progress_deadline_seconds,
            "template": {
                "metadata": {"labels": labels(owner, "migrations", image)},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "migrate",
                            "image": image,
                            "args": ["migrate"],
                            "env": _env(spec),
                            "resources": _resources(spec),
                            "securityContext": _SECURITY_CONTEXT,
                        }
                    ],
                },
            },
        },
    }


def deployment(owner: Owner, spec: TodoStackSpec, image: str) -> Manifest:
    """The API Deployment serving `image` (which is the spec's image only once its migrations succeeded)."""
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3}
    deploy_spec: Manifest = {
        "selector": {"matchLabels": selector_labels(owner)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "progressDeadlineSeconds": spec.rollout.progress_deadline_seconds,
        "template": {
            "metadata": {"labels": labels(owner, "api", image)},
            "spec": {
                "terminationGracePeriodSeconds": 30,
                "containers": [
                    {
                        "name": "api",
                        "image": image,
                        "args": ["serve"],
                        "ports": [
                            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                        ],
                        "env": _env(spec),
                        "resources": _resources(spec),
                        "livenessProbe": probe,
                        "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
                        "securityContext": _SECURITY_CONTEXT,
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    }
    if spec.autoscaling is None:  # otherwise the HPA owns the count; writing it would fight the HPA
        deploy_spec["replicas"] = spec.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(owner, owner.name, "api", image),
        "spec": deploy_spec,
    }


def service(owner: Owner) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(owner, owner.name, "api"),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner),
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def autoscaler(owner: Owner, spec: TodoStackSpec) -> Manifest | None:
    if spec.autoscaling is None:
        return None
    bounds = spec.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(owner, owner.name, "api"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner.name},
            "minReplicas": bounds.min_replicas,
            "maxReplicas": bounds.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": bounds.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }


def disruption_budget(owner: Owner, spec: TodoStackSpec) -> Manifest | None:
    budget = spec.disruption_budget
    if not budget.enabled:
        return None
    rule = (
        {"minAvailable": budget.min_available}
        if budget.min_available is not None
        else {"maxUnavailable": budget.max_unavailable}
    )
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(owner, owner.name, "api"),
        "spec": {"selector": {"matchLabels": selector_labels(owner)}, **rule},
    }


def service_monitor(owner: Owner, spec: TodoStackSpec) -> Manifest | None:
    wanted = spec.observability.service_monitor
    if wanted is None or not wanted.enabled:
        return None
    namespace = wanted.namespace or owner.namespace
    metadata = _metadata(owner, owner.name, "monitoring")
    metadata["namespace"] = namespace
    metadata["labels"] = {**wanted.labels, **metadata["labels"]}
    if namespace != owner.namespace:
        del metadata["ownerReferences"]  # owner references cannot cross namespaces: the finalizer deletes it
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": selector_labels(owner)},
            "namespaceSelector": {"matchNames": [owner.namespace]},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": wanted.interval}],
        },
    }


def serving_children(owner: Owner, spec: TodoStackSpec, image: str) -> list[Manifest]:
    """Every child but the migration Job, Deployment first."""
    optional = [autoscaler(owner, spec), disruption_budget(owner, spec)]
    edge: list[Manifest | None] = [*middlewares(owner, spec), ingress_route(owner, spec)]
    built = [deployment(owner, spec, image), service(owner), *optional, *edge, service_monitor(owner, spec)]
    return [child for child in built if child is not None]
