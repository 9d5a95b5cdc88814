"""Every child a TodoStack builds is a valid object of its kind, owned by the stack and labelled the recommended way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.k8s_schemas import OPERATOR_DIR, load_all, validate
from todostack_operator import children as build
from todostack_operator import edge
from todostack_operator.naming import Owner
from todostack_operator.spec import TodoStackSpec, parse_spec

pytestmark = pytest.mark.unit

OWNER = Owner(name="todo", namespace="todo", uid="0b6c1f1e-5a7d-4d8e-9a55-0c2b7c1e9f00")
DIGEST_IMAGE = (
    "registry.example.com/todostack/api@sha256:4f1c9a7e1b2d3c4e5f60718293a4b5c6d7e8f90112233445566778899aabbccd"
)


def _spec(name: str = "todostack") -> TodoStackSpec:
    return parse_spec(load_all(OPERATOR_DIR / "samples" / f"{name}.yaml")[0]["spec"])


def _everything(spec: TodoStackSpec) -> list[dict[str, Any]]:
    return [build.migration_job(OWNER, spec, spec.image), *build.serving_children(OWNER, spec, spec.image)]


def _ids(objs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


FULL = _everything(_spec("todostack"))
MINIMAL = _everything(_spec("todostack-minimal"))


@pytest.mark.parametrize("obj", FULL + MINIMAL, ids=_ids(FULL) + [f"minimal-{i}" for i in _ids(MINIMAL)])
def test_every_child_is_valid_for_its_kind(obj: dict[str, Any]) -> None:
    validate(obj)


def test_the_full_sample_builds_every_kind() -> None:
    assert sorted({o["kind"] for o in FULL}) == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "IngressRoute",
        "Job",
        "Middleware",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
    ]
    assert sorted({o["kind"] for o in MINIMAL}) == ["Deployment", "Job", "Service"]


@pytest.mark.parametrize("obj", FULL, ids=_ids(FULL))
def test_every_child_is_owned_and_labelled(obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "todostack.dev/v1alpha1",
            "kind": "TodoStack",
            "name": "todo",
            "uid": OWNER.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = meta["labels"]
    assert labels["app.kubernetes.io/name"] == "todostack"
    assert labels["app.kubernetes.io/instance"] == "todo"
    assert labels["app.kubernetes.io/managed-by"] == "todostack-operator"
    assert labels["app.kubernetes.io/part-of"] == "todostack"
    assert labels["app.kubernetes.io/component"] in {"api", "migrations", "edge", "monitoring"}


def test_the_migration_job_is_named_after_the_image_digest() -> None:
    job = build.migration_job(OWNER, _spec(), DIGEST_IMAGE)
    assert job["metadata"]["name"] == "todo-migrate-4f1c9a7e1b2d"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["metadata"]["labels"]["app.kubernetes.io/version"] == "4f1c9a7e1b2d"
    tagged = build.migration_job_name(OWNER, "registry.example.com/todostack/api:1.2.3")
    assert tagged != build.migration_job_name(OWNER, "registry.example.com/todostack/api:1.2.4")
    long_owner = Owner(name="a" * 63, namespace="todo", uid=OWNER.uid)
    assert len(build.migration_job_name(long_owner, DIGEST_IMAGE)) <= 63


def test_the_database_url_and_secret_key_come_from_secrets() -> None:
    deploy = build.deployment(OWNER, _spec(), DIGEST_IMAGE)
    env = {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TODOSTACK_DATABASE_URL"]["valueFrom"] == {"secretKeyRef": {"name": "todo-database", "key": "url"}}
    assert env["TODOSTACK_SECRET_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "todo-secrets", "key": "secret-key"}}
    assert env["TODOSTACK_DB_POOL_SIZE"]["value"] == "8"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4318"


def test_the_hpa_owns_the_replica_count_when_autoscaling() -> None:
    assert "replicas" not in build.deployment(OWNER, _spec("todostack"), DIGEST_IMAGE)["spec"]
    assert build.deployment(OWNER, _spec("todostack-minimal"), DIGEST_IMAGE)["spec"]["replicas"] == 1


def test_the_ingress_route_chains_the_middlewares_it_builds() -> None:
    spec = _spec()
    route = edge.ingress_route(OWNER, spec)
    assert route is not None
    chain = [m["name"] for m in route["spec"]["routes"][0]["middlewares"]]
    assert chain == ["todo-ratelimit", "todo-headers", "todo-circuitbreaker", "todo-retry"]
    assert chain == [m["metadata"]["name"] for m in edge.middlewares(OWNER, spec)]
    assert route["spec"]["routes"][0]["match"] == "Host(`todo.example.com`)"


def test_a_service_monitor_in_another_namespace_is_not_owned() -> None:
    raw = load_all(OPERATOR_DIR / "samples" / "todostack.yaml")[0]["spec"]
    raw["observability"]["serviceMonitor"]["namespace"] = "monitoring"
    monitor = build.service_monitor(OWNER, parse_spec(raw))
    assert monitor is not None
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert "ownerReferences" not in monitor["metadata"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["todo"]}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    validate(monitor)


def test_the_service_monitor_scrapes_the_metrics_port_not_the_public_one() -> None:
    kinds = {o["kind"]: o for o in FULL}
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(env["TODOSTACK_METRICS_PORT"]) == ports["metrics"] != ports["http"]
    service_ports = {p["name"]: p["targetPort"] for p in kinds["Service"]["spec"]["ports"]}
    assert service_ports["metrics"] == "metrics"
    assert [e["port"] for e in kinds["ServiceMonitor"]["spec"]["endpoints"]] == ["metrics"]
