"""The reconcile step against an in-memory API: the sequence, the conditions, drift, rollback and errors."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fake_kube import FakeKubeApi
from todostack_operator.children import migration_job_name
from todostack_operator.kube import ApiError, TransientApiError
from todostack_operator.naming import Owner
from todostack_operator.reconcile import Outcome, Stack, reconcile

pytestmark = pytest.mark.unit

OWNER = Owner(name="todo", namespace="shop", uid="6f0b1a39-1d55-4c4b-8a36-25d7f4d0c001")
V1 = "registry.example.com/todostack/api:1.0.0"
V2 = "registry.example.com/todostack/api:2.0.0"
T0 = datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)


class World:
    """The API, the clock, the stack's stored status and events: the test plays every controller."""

    def __init__(self, **spec: Any) -> None:
        self.api = FakeKubeApi()
        self.now = T0
        self.status: dict[str, Any] = {}
        self.events: list[tuple[str, str, str]] = []
        self.generation = 1
        self.spec: dict[str, Any] = {
            "image": V1,
            "database": {"urlSecret": {"name": "db", "key": "url"}},
            "replicas": 2,
            "rollout": {"progressDeadlineSeconds": 60},
            **spec,
        }
        self._last_spec = copy.deepcopy(self.spec)

    async def step(self) -> Outcome:
        if self.spec != self._last_spec:  # the API server bumps the generation on every spec change
            self.generation += 1
            self._last_spec = copy.deepcopy(self.spec)

        def emit(kind: str, reason: str, message: str) -> None:
            self.events.append((kind, reason, message))

        stack = Stack(owner=OWNER, generation=self.generation, spec=self.spec, status=self.status)
        outcome = await reconcile(self.api, stack, now=self.now, emit=emit)
        self.status = outcome.status
        return outcome

    def condition(self, kind: str) -> dict[str, Any]:
        return next(c for c in self.status["conditions"] if c["type"] == kind)

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]

    def job(self, image: str) -> dict[str, Any] | None:
        return self.api.find("Job", migration_job_name(OWNER, image))

    def finish_job(self, image: str, *, ok: bool = True) -> None:
        job = self.job(image)
        assert job is not None, f"no migration Job for {image}"
        kind = "Complete" if ok else "Failed"
        job["status"] = {
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": "BackoffLimitExceeded" if not ok else "Done",
                    "message": "exit code 1" if not ok else "",
                }
            ]
        }

    def deployment(self) -> dict[str, Any]:
        deploy = self.api.find("Deployment", "todo")
        assert deploy is not None
        return deploy

    def image(self) -> str:
        return str(self.deployment()["spec"]["template"]["spec"]["containers"][0]["image"])

    def ready(self) -> None:
        """The Deployment controller: every replica updated and ready."""
        deploy = self.deployment()
        n = deploy["spec"].get("replicas", 1)
        generation = deploy["metadata"]["generation"]
        deploy["status"] = {"observedGeneration": generation, "replicas": n, "updatedReplicas": n}
        deploy["status"].update(readyReplicas=n, availableReplicas=n)

    def not_ready(self) -> None:
        deploy = self.deployment()
        generation = deploy["metadata"]["generation"]
        deploy["status"] = {"observedGeneration": generation, "replicas": 3, "updatedReplicas": 1}
        deploy["status"].update(readyReplicas=2, availableReplicas=2)

    async def serving(self, image: str) -> None:
        """Roll `image` out to Available, playing the Job and Deployment controllers."""
        self.spec["image"] = image
        await self.step()
        self.finish_job(image)
        await self.step()
        self.ready()
        await self.step()
        assert self.condition("Available")["status"] == "True"


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """One full life before the tests, outside their bodies: first-call costs (msgspec building its decoders for
    the spec types, lazy imports) are then not counted by the blocked-loop check on a busy machine."""
    asyncio.run(World().serving(V1))


async def test_the_migration_job_comes_before_the_deployment() -> None:
    world = World()
    await world.step()
    assert world.api.kinds() == ["Job"]
    assert world.condition("MigrationsApplied")["status"] == "False"
    assert world.condition("MigrationsApplied")["reason"] == "Running"
    assert world.condition("Progressing")["reason"] == "Migrating"
    assert world.condition("Available")["reason"] == "NotDeployed"
    assert world.reasons() == ["MigrationStarted"]

    await world.step()  # the Job still runs: nothing else appears, no second Job
    assert world.api.kinds() == ["Job"]

    world.finish_job(V1)
    await world.step()
    assert world.image() == V1
    assert sorted(world.api.kinds()) == ["Deployment", "Job", "PodDisruptionBudget", "Service"]
    assert world.condition("MigrationsApplied")["status"] == "True"
    assert world.condition("Available")["status"] == "False"

    world.ready()
    await world.step()
    available = world.condition("Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert world.condition("Progressing")["status"] == "False"
    assert world.condition("Degraded")["status"] == "False"
    assert world.status["lastAvailableImage"] == V1
    assert available["observedGeneration"] == world.generation
    assert world.reasons()[-1] == "RolloutComplete"


async def test_a_new_image_waits_for_its_migrations_and_a_failed_job_keeps_the_old_version() -> None:
    world = World()
    await world.serving(V1)
    world.spec["image"] = V2
    await world.step()
    assert world.job(V2) is not None
    assert world.image() == V1, "the Deployment changed before the migrations succeeded"

    world.finish_job(V2, ok=False)
    await world.step()
    assert world.image() == V1
    migrations = world.condition("MigrationsApplied")
    assert (migrations["status"], migrations["reason"]) == ("False", "Failed")
    assert migration_job_name(OWNER, V2) in migrations["message"]
    assert f"{V1} keeps serving" in migrations["message"]
    degraded = world.condition("Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "MigrationFailed")
    assert world.condition("Available")["status"] == "True"
    assert world.reasons().count("MigrationFailed") == 1
    await world.step()
    assert world.reasons().count("MigrationFailed") == 1, "the same failure was announced twice"


async def test_a_rollout_not_ready_within_the_deadline_is_rolled_back() -> None:
    world = World()
    await world.serving(V1)
    world.spec["image"] = V2
    await world.step()
    world.finish_job(V2)
    await world.step()
    assert world.image() == V2
    world.not_ready()
    world.now += timedelta(seconds=30)
    await world.step()
    assert world.image() == V2, "rolled back before the deadline"
    assert world.condition("Progressing")["reason"] == "RollingOut"

    world.now += timedelta(seconds=31)
    outcome = await world.step()
    assert outcome.rolled_back
    assert world.image() == V1
    degraded = world.condition("Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "RolledBack")
    assert "60 s deadline" in degraded["message"]
    assert world.status["rolledBackImage"] == V2

    world.ready()
    for _ in range(2):  # the bad image is not tried again while the spec still names it
        await world.step()
        assert world.image() == V1
    assert world.condition("Available")["status"] == "True"
    assert world.condition("Degraded")["reason"] == "RolledBack"
    assert world.condition("Progressing")["reason"] == "RolledBack"

    v3 = "registry.example.com/todostack/api:3.0.0"
    await world.serving(v3)
    assert world.condition("Degraded")["status"] == "False"
    assert world.status["rolledBackImage"] is None


async def test_a_newer_image_during_a_rollout_gets_its_own_deadline() -> None:
    world = World()
    await world.serving(V1)
    world.spec["image"] = V2
    await world.step()
    world.finish_job(V2)
    await world.step()
    world.not_ready()
    world.now += timedelta(seconds=50)
    await world.step()
    v3 = "registry.example.com/todostack/api:3.0.0"
    world.spec["image"] = v3
    await world.step()
    world.finish_job(v3)
    await world.step()
    assert world.image() == v3
    world.not_ready()
    world.now += timedelta(seconds=30)  # 80 s after V2 started, 30 s after V3 did
    outcome = await world.step()
    assert not outcome.rolled_back
    assert world.image() == v3


@pytest.mark.parametrize(
    ("container_status", "cause"),
    [
        pytest.param({"state": {"waiting": {"reason": "CrashLoopBackOff"}}}, "crash-looping", id="crash-loop"),
        pytest.param({"lastState": {"terminated": {"reason": "OOMKilled"}}}, "OOM-killed", id="oom-killed"),
    ],
)
async def test_crash_looping_or_oom_killed_new_pods_are_rolled_back_at_once(
    container_status: dict[str, Any], cause: str
) -> None:
    world = World()
    await world.serving(V1)
    world.spec["image"] = V2
    await world.step()
    world.finish_job(V2)
    await world.step()
    world.not_ready()
    pod_labels = {
        "app.kubernetes.io/name": "todostack",
        "app.kubernetes.io/instance": "todo",
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/version": "2.0.0",
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "todo-abc", "namespace": "shop", "labels": pod_labels},
        "status": {"containerStatuses": [{"name": "api", "image": V2, **container_status}]},
    }
    world.api.objects[("v1", "Pod", "shop", "todo-abc")] = pod
    await world.step()
    assert world.image() == V1
    assert cause in world.condition("Degraded")["message"]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda w: w.deployment()["spec"].update(replicas=7), id="scaled"),
        pytest.param(
            lambda w: w.deployment()["spec"]["template"]["spec"]["containers"][0].update(image="evil:latest"),
            id="edited",
        ),
        pytest.param(lambda w: w.api.objects.pop(("v1", "Service", "shop", "todo")), id="deleted"),
    ],
)
async def test_drift_is_repaired(damage: Any) -> None:
    world = World()
    await world.serving(V1)
    before = {key: copy.deepcopy(obj) for key, obj in world.api.objects.items() if key[1] != "Job"}
    damage(world)
    outcome = await world.step()
    assert outcome.repaired
    assert world.reasons()[-1] == "DriftRepaired"
    for key, obj in before.items():
        assert key in world.api.objects, f"{key} not recreated"
        assert world.api.objects[key]["spec"] == obj["spec"]


async def test_nothing_is_written_when_nothing_drifted() -> None:
    world = World()
    await world.serving(V1)
    world.api.calls.clear()
    outcome = await world.step()
    assert not outcome.repaired
    assert [verb for verb, _, _ in world.api.calls if verb not in ("get", "list")] == []


async def test_a_409_on_create_means_exists_patch_it() -> None:
    world = World()
    await world.step()
    world.finish_job(V1)
    # Another writer (a concurrent step) creates the Deployment between our read and our create.
    rival = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "todo", "namespace": "shop"}}
    original_get = world.api.get
    reads = []

    async def get_then_race(api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = await original_get(api_version, kind, namespace, name)
        if kind == "Deployment":
            reads.append(name)
            if len(reads) == 2:  # the read just before the create
                world.api.objects[("apps/v1", kind, namespace, name)] = dict(rival)
        return found

    world.api.get = get_then_race  # type: ignore[method-assign]
    await world.step()
    assert ("create", "Deployment", "todo") in world.api.calls
    assert ("patch", "Deployment", "todo") in world.api.calls
    assert world.image() == V1
    assert world.condition("Degraded")["status"] == "False"


async def test_transient_errors_propagate_and_permanent_ones_land_in_status() -> None:
    world = World()
    world.api.faults[("create", "Job")].append(TransientApiError(429, "TooManyRequests", "slow down"))
    with pytest.raises(TransientApiError):
        await world.step()
    world.api.faults[("create", "Job")].append(ApiError(403, "Forbidden", "jobs.batch is forbidden"))
    await world.step()
    degraded = world.condition("Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "ApiRefused")
    assert "forbidden" in degraded["message"]
    await world.step()  # the refusal is gone: the next step goes on
    assert world.job(V1) is not None
    assert world.condition("Degraded")["status"] == "False"


async def test_an_invalid_spec_touches_nothing_and_says_why() -> None:
    world = World(replicas=0)
    await world.step()
    assert world.api.objects == {}
    degraded = world.condition("Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "InvalidSpec")
    assert "replicas" in degraded["message"]


async def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    world = World()
    await world.serving(V1)
    since = world.condition("Available")["lastTransitionTime"]
    world.now += timedelta(minutes=5)
    await world.step()
    assert world.condition("Available")["lastTransitionTime"] == since
    world.not_ready()
    await world.step()
    assert world.condition("Available")["lastTransitionTime"] == "2026-11-30T08:05:00Z"


async def test_switching_a_feature_off_deletes_its_children() -> None:
    world = World(autoscaling={"minReplicas": 2, "maxReplicas": 4})
    await world.serving(V1)
    assert world.api.find("HorizontalPodAutoscaler", "todo") is not None
    del world.spec["autoscaling"]
    await world.step()
    assert world.api.find("HorizontalPodAutoscaler", "todo") is None
    assert world.deployment()["spec"]["replicas"] == 2
