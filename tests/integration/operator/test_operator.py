"""The operator in-process against an emulated API server (kmock): the test plays Kubernetes' controllers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.operator.cluster import Cluster, running, wait_for
from todostack_operator.children import migration_job_name
from todostack_operator.naming import Owner

pytestmark = pytest.mark.integration

NS = "shop"
STACKS = "todostack.dev/v1alpha1/todostacks"
JOBS = "batch/v1/jobs"
DEPLOYMENTS = "apps/v1/deployments"
V1 = "registry.example.com/todostack/api:1.0.0"
V2 = "registry.example.com/todostack/api:2.0.0"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with running(resync_seconds=0.3, backoff_seconds=0.1, backoff_max_seconds=1.0) as cluster:
        yield cluster


def stack(name: str = "todo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "todostack.dev/v1alpha1",
        "kind": "TodoStack",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"image": V1, "database": {"urlSecret": {"name": "db", "key": "url"}}, "replicas": 2, **spec},
    }


def condition(cluster: Cluster, kind: str, name: str = "todo") -> dict[str, Any] | None:
    obj = cluster.get(STACKS, NS, name) or {}
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def job_name(cluster: Cluster, image: str, name: str = "todo") -> str:
    obj = cluster.get(STACKS, NS, name)
    assert obj is not None
    return migration_job_name(Owner(name=name, namespace=NS, uid=obj["metadata"]["uid"]), image)


def finish_job(cluster: Cluster, image: str, *, ok: bool = True, name: str = "todo") -> None:
    """The Job controller: the migration Job completes (or fails)."""
    job = job_name(cluster, image, name)
    wait_for(f"Job {job}", lambda: cluster.get(JOBS, NS, job))
    kind = "Complete" if ok else "Failed"
    status: dict[str, Any] = {
        "conditions": [{"type": kind, "status": "True", "reason": "Done" if ok else "BackoffLimitExceeded"}]
    }
    status.update({"succeeded": 1} if ok else {"failed": 3})
    cluster.patch(JOBS, NS, job, {"status": status}, sub="status")


def deployment_image(cluster: Cluster, name: str = "todo") -> str | None:
    deploy = cluster.get(DEPLOYMENTS, NS, name)
    containers = (deploy or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return containers[0].get("image") if containers else None


def make_ready(cluster: Cluster, name: str = "todo") -> None:
    """The Deployment controller: every replica of the current generation updated and ready."""
    deploy = cluster.get(DEPLOYMENTS, NS, name)
    assert deploy is not None
    n = deploy["spec"].get("replicas", 1)
    status = {"observedGeneration": deploy["metadata"]["generation"], "replicas": n, "updatedReplicas": n}
    status.update(readyReplicas=n, availableReplicas=n)
    cluster.patch(DEPLOYMENTS, NS, name, {"status": status}, sub="status")


def steps(cluster: Cluster) -> float:
    assert cluster.runtime is not None
    metric = cluster.runtime.metrics.reconciles
    return sum(sample.value for m in metric.collect() for sample in m.samples if sample.name.endswith("_total"))


def wait_steps(cluster: Cluster, count: int) -> None:
    """Let the operator take `count` more reconcile steps (the drift timer ticks every 0.3 s)."""
    target = steps(cluster) + count
    wait_for(f"{count} more reconcile steps", lambda: steps(cluster) >= target)


def serve(cluster: Cluster, image: str, name: str = "todo") -> None:
    finish_job(cluster, image, name=name)
    wait_for(f"the Deployment on {image}", lambda: deployment_image(cluster, name) == image)
    make_ready(cluster, name)
    wait_for("Available=True", lambda: (condition(cluster, "Available", name) or {}).get("status") == "True")


def test_the_job_runs_before_the_deployment_and_conditions_follow(cluster: Cluster) -> None:
    cluster.create(STACKS, NS, stack())
    job = wait_for("the migration Job", lambda: cluster.get(JOBS, NS, job_name(cluster, V1)))
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == V1
    wait_for(
        "MigrationsApplied=False", lambda: (condition(cluster, "MigrationsApplied") or {}).get("reason") == "Running"
    )
    wait_steps(cluster, 3)
    assert cluster.get(DEPLOYMENTS, NS, "todo") is None, "the Deployment was created before the migrations ran"

    serve(cluster, V1)
    for kind, expected in [
        ("MigrationsApplied", "True"),
        ("Available", "True"),
        ("Progressing", "False"),
        ("Degraded", "False"),
    ]:
        found = condition(cluster, kind)
        assert found is not None, kind
        assert found["status"] == expected, (kind, found)
        assert found["lastTransitionTime"].endswith("Z")
        assert found["observedGeneration"] == 1
        assert found["reason"]
    events = [e["reason"] for e in cluster.list("v1/events", NS)]
    for reason in ("MigrationStarted", "MigrationSucceeded", "RolloutStarted", "RolloutComplete"):
        assert reason in events, (reason, events)


def test_drift_is_repaired_after_scale_edit_and_delete(cluster: Cluster) -> None:
    cluster.create(STACKS, NS, stack())
    serve(cluster, V1)
    cluster.patch(DEPLOYMENTS, NS, "todo", {"spec": {"replicas": 7}})
    wait_for("replicas back to 2", lambda: (cluster.get(DEPLOYMENTS, NS, "todo") or {})["spec"]["replicas"] == 2)

    edited = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "evil:latest"}]}}}}
    cluster.patch(DEPLOYMENTS, NS, "todo", edited)
    wait_for("the image put back", lambda: deployment_image(cluster) == V1)
    deploy = cluster.get(DEPLOYMENTS, NS, "todo")
    assert deploy is not None
    assert deploy["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"

    cluster.delete("v1/services", NS, "todo")
    service = wait_for("the Service recreated", lambda: cluster.get("v1/services", NS, "todo"))
    assert service["metadata"]["ownerReferences"][0]["name"] == "todo"
    assert "DriftRepaired" in [e["reason"] for e in cluster.list("v1/events", NS)]


def test_a_rollout_that_never_gets_ready_is_rolled_back(cluster: Cluster) -> None:
    cluster.create(STACKS, NS, stack(rollout={"progressDeadlineSeconds": 1}))
    serve(cluster, V1)
    cluster.patch(STACKS, NS, "todo", {"spec": {"image": V2}})
    finish_job(cluster, V2)
    wait_for("the Deployment on the new image", lambda: deployment_image(cluster) == V2)
    # The Deployment controller never reports the new generation ready: the deadline passes.
    wait_for("the rollback to the last Available image", lambda: deployment_image(cluster) == V1)
    degraded = wait_for(
        "Degraded=RolledBack", lambda: (c := condition(cluster, "Degraded")) and c["reason"] == "RolledBack" and c
    )
    assert degraded["status"] == "True"
    assert V2 in degraded["message"]
    assert "deadline" in degraded["message"]
    make_ready(cluster)
    wait_for("Available again", lambda: (condition(cluster, "Available") or {}).get("status") == "True")
    wait_steps(cluster, 3)
    assert deployment_image(cluster) == V1, "the rolled-back image was tried again"
    status = (cluster.get(STACKS, NS, "todo") or {})["status"]
    assert (status["rolledBackImage"], status["lastAvailableImage"]) == (V2, V1)
    assert "RolledBack" in [e["reason"] for e in cluster.list("v1/events", NS)]


def test_the_finalizer_deletes_what_owner_references_cannot(cluster: Cluster) -> None:
    monitors = "monitoring.coreos.com/v1/servicemonitors"
    observability = {"serviceMonitor": {"namespace": "monitoring"}}
    cluster.create(STACKS, NS, stack(observability=observability))
    serve(cluster, V1)
    monitor = wait_for("the ServiceMonitor", lambda: cluster.get(monitors, "monitoring", "todo"))
    assert "ownerReferences" not in monitor["metadata"]
    todo = cluster.get(STACKS, NS, "todo")
    assert todo is not None
    assert "todostack.dev/cleanup" in todo["metadata"]["finalizers"]

    cluster.delete(STACKS, NS, "todo")
    wait_for("the TodoStack gone (finalizer released)", lambda: cluster.get(STACKS, NS, "todo") is None)
    assert cluster.get(monitors, "monitoring", "todo") is None
    # Garbage collection is a controller's job, played here: owned children remain until it runs.
    owned = cluster.get(DEPLOYMENTS, NS, "todo")
    assert owned is not None
    assert owned["metadata"]["ownerReferences"][0]["uid"] == todo["metadata"]["uid"]


def test_a_409_from_a_rival_writer_means_patch_it(cluster: Cluster) -> None:
    cluster.create(STACKS, NS, stack())
    wait_for("the migration Job", lambda: cluster.get(JOBS, NS, job_name(cluster, V1)))
    # A rival writer creates the Deployment just after the operator found it missing: injected 404s stand for
    # the operator's reads that came before the rival's create, until the operator tries to create it.
    rival = {"metadata": {"name": "todo", "namespace": NS}, "spec": {"replicas": 9, "template": {"spec": {}}}}
    cluster.create(DEPLOYMENTS, NS, rival)
    cluster.inject("get", DEPLOYMENTS, 404, times=1000, reason="NotFound", lifted_by="post")
    finish_job(cluster, V1)
    wait_for("the rival Deployment patched to the declaration", lambda: deployment_image(cluster) == V1)
    deploy = cluster.get(DEPLOYMENTS, NS, "todo")
    assert deploy is not None
    assert deploy["spec"]["replicas"] == 2
    assert cluster.emulator is not None
    posts = [r for r in cluster.emulator if r.method == "POST" and r.resource and r.resource.plural == "deployments"]
    assert len(posts) == 2, "the operator did not try to create the Deployment exactly once"
    make_ready(cluster)
    wait_for("Available=True", lambda: (condition(cluster, "Available") or {}).get("status") == "True")
    assert (condition(cluster, "Degraded") or {}).get("status") == "False"


def test_transient_500_and_429_answers_are_retried(cluster: Cluster) -> None:
    errors_500 = cluster.inject("get", JOBS, 500, times=2, reason="InternalError")
    errors_429 = cluster.inject("patch", STACKS, 429, times=1, reason="TooManyRequests", subresource="status")
    cluster.create(STACKS, NS, stack())
    wait_for("the migration Job despite the errors", lambda: cluster.get(JOBS, NS, job_name(cluster, V1)))
    serve(cluster, V1)
    assert errors_500.hit == 2
    assert errors_429.hit == 1
    assert cluster.runtime is not None
    api_errors = {
        sample.labels["status"]: sample.value
        for metric in cluster.runtime.metrics.api_errors.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    assert api_errors.get("500", 0) >= 2
    assert api_errors.get("429", 0) >= 1
    assert (condition(cluster, "Degraded") or {}).get("status") == "False"
