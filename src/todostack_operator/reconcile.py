"""One idempotent reconcile step: run on create, update and resume, and again on every drift timer tick.

The sequence, each tick:

1. parse the spec (a bad one: `Degraded=True, reason InvalidSpec`, nothing touched);
2. migrations: the Job named after the spec image's digest is created once; until it succeeded the
   Deployment keeps its current image (`MigrationsApplied`); a failed Job leaves the old version serving;
3. every child is created when missing and patched when it differs from its declaration (drift repair,
   ``drift``); a 409 on create means another writer was first: patch it;
4. availability: all replicas updated and ready on the serving image → `Available`, and that image becomes
   the one to roll back to; otherwise, past the deadline or with new pods crash-looping / OOM-killed,
   the Deployment is rolled back to the last `Available` image and `Degraded` names the cause.

Transient API errors propagate (`TransientApiError`: the kopf layer retries with backoff); any other refusal
is written into `Degraded`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from todostack_operator import children as build
from todostack_operator.conditions import find, set_condition, timestamp
from todostack_operator.drift import Emit, apply_declared, delete_unwanted
from todostack_operator.kube import ApiError, KubeApi, TransientApiError
from todostack_operator.naming import Owner, image_digest, image_version, selector_labels
from todostack_operator.observe import availability, container_image, job_state, pod_failure
from todostack_operator.spec import InvalidSpec, TodoStackSpec, TodoStackStatus, parse_spec, parse_status


@dataclass(frozen=True, slots=True)
class Stack:
    """A TodoStack as the API server showed it."""

    owner: Owner
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


@dataclass(slots=True)
class Outcome:
    """What one step decided: the status to write and what it changed."""

    status: dict[str, Any]
    repaired: list[str] = field(default_factory=list)
    rolled_back: bool = False


class _Step:
    """One reconcile step's working state: the status being written and the conditions it sets."""

    def __init__(self, api: KubeApi, stack: Stack, spec: TodoStackSpec, status: TodoStackStatus, now: datetime,
                 emit: Emit) -> None:  # fmt: skip
        self.api, self.stack, self.spec, self.status, self.now, self.emit = api, stack, spec, status, now, emit
        self.owner = stack.owner
        self.outcome = Outcome(status={})
        self.degraded: tuple[str, str] | None = None
        self.migrating = False
        self.spec_changed = status.observed_generation != stack.generation

    def cond(self, kind: str, value: bool | None, reason: str, message: str) -> None:
        self.status.conditions = set_condition(
            self.status.conditions, kind, value, reason, message, generation=self.stack.generation, now=self.now
        )

    async def run(self) -> None:
        desired = self.spec.image
        ns, name = self.owner.namespace, self.owner.name
        running = container_image(await self.api.get("apps/v1", "Deployment", ns, name))
        serving = self.status.serving_image or running
        if self.status.rolled_back_image not in (None, desired):
            self.status.rolled_back_image = None  # a new image supersedes the one rolled back
        held_back = self.status.rolled_back_image == desired

        migrated = self.status.migrated_digest == image_digest(desired)
        if not migrated and not held_back:
            migrated = await self.migrate(desired, serving)
        elif migrated:
            self.cond("MigrationsApplied", True, "Succeeded", f"the migrations of {desired} are applied")

        target = desired if migrated and not held_back else serving
        if target is None:
            self.cond("Available", False, "NotDeployed", "nothing is deployed until the first migrations succeed")
            return
        if target != self.status.serving_image:
            self.status.rollout_started_at = None  # a new target gets its own full deadline
        if self.status.rollout_started_at is None and target != self.status.last_available_image:
            self.status.rollout_started_at = timestamp(self.now)
            self.emit("Normal", "RolloutStarted", f"rolling out {target} (serving {serving or 'nothing'})")
        first_apply = self.status.serving_image is None
        self.status.serving_image = target
        await self.apply_children(target, drift=not first_apply)
        await self.watch_rollout(target, held_back)

    async def migrate(self, image: str, serving: str | None) -> bool:
        job_name = build.migration_job_name(self.owner, image)
        job = await self.api.get("batch/v1", "Job", self.owner.namespace, job_name)
        keeps = f"{serving} keeps serving" if serving else "nothing is deployed yet"
        if job is None:
            try:
                await self.api.create(build.migration_job(self.owner, self.spec, image))
            except ApiError as exc:
                if exc.status != 409:  # 409: created meanwhile by a concurrent step, which is what we wanted
                    raise
            self.emit("Normal", "MigrationStarted", f"Job {job_name} applies the migrations of {image}")
            state, why = "running", ""
        else:
            state, why = job_state(job)
        if state == "succeeded":
            self.status.migrated_digest = image_digest(image)
            self.emit("Normal", "MigrationSucceeded", f"Job {job_name} applied the migrations of {image}")
            self.cond("MigrationsApplied", True, "Succeeded", f"the migrations of {image} are applied")
            return True
        if state == "failed":
            previous = find(self.status.conditions, "MigrationsApplied")
            message = f"Job {job_name} failed ({why}); {keeps}"
            if previous is None or previous.reason != "Failed":
                self.emit("Warning", "MigrationFailed", message)
            self.cond("MigrationsApplied", False, "Failed", message)
            self.degraded = ("MigrationFailed", message)
            return False
        self.migrating = True
        self.cond("MigrationsApplied", False, "Running", f"Job {job_name} is applying the migrations of {image}")
        self.cond("Progressing", True, "Migrating", f"waiting for Job {job_name}; {keeps}")
        return False

    async def apply_children(self, image: str, *, drift: bool) -> None:
        wanted = build.serving_children(self.owner, self.spec, image)
        self.outcome.repaired += await apply_declared(self.api, wanted, drift=drift, emit=self.emit)
        if self.spec_changed:  # features are switched off only by a spec change: no reads for it on a timer tick
            await delete_unwanted(self.api, self.owner, {(m["kind"], m["metadata"]["name"]) for m in wanted}, self.emit)

    async def watch_rollout(self, target: str, held_back: bool) -> None:
        ns, name = self.owner.namespace, self.owner.name
        ready, detail = availability(await self.api.get("apps/v1", "Deployment", ns, name), target)
        if ready:
            if self.status.last_available_image != target:
                self.emit("Normal", "RolloutComplete", detail)
            self.status.last_available_image = target
            self.status.rollout_started_at = None
            self.cond("Available", True, "MinimumReplicasAvailable", detail)
            if self.migrating:
                pass  # Progressing stays "Migrating": the next image waits for its Job
            elif held_back:
                self.cond("Progressing", False, "RolledBack", f"serving {target}; {self.spec.image} was rolled back")
            elif self.degraded is not None:
                self.cond("Progressing", False, self.degraded[0], f"serving {target}")
            else:
                self.cond("Progressing", False, "RolloutComplete", f"serving {target}")
            return
        cause = await self.rollout_failure(target)
        previous = self.status.last_available_image
        if cause is not None and previous is not None and previous != target:
            await self.rollback(target, previous, cause)
            return
        self.cond("Available", False, "MinimumReplicasUnavailable", detail)
        self.cond("Progressing", True, "RollingOut", f"rolling out {target}")
        if cause is not None:
            self.degraded = ("RolloutStuck", f"{target}: {cause}; no earlier Available image to roll back to")

    async def rollout_failure(self, image: str) -> str | None:
        selector = {**selector_labels(self.owner), "app.kubernetes.io/version": image_version(image)}
        pods = await self.api.list("v1", "Pod", self.owner.namespace, selector)
        broken = pod_failure(pods, image)
        if broken is not None:
            return broken
        started = self.status.rollout_started_at
        deadline = self.spec.rollout.progress_deadline_seconds
        if started is not None:
            since = datetime.fromisoformat(started.replace("Z", "+00:00"))
            if (self.now - since).total_seconds() > deadline:
                return f"its pods were not ready within the {deadline} s deadline"
        return None

    async def rollback(self, bad: str, good: str, cause: str) -> None:
        await self.api.patch(build.deployment(self.owner, self.spec, good))
        self.status.rolled_back_image = bad
        self.status.serving_image = good
        self.status.rollout_started_at = None
        message = f"rolled back from {bad} to {good}: {cause}"
        self.emit("Warning", "RolledBack", message)
        self.outcome.rolled_back = True
        self.cond("Available", False, "RollingBack", f"rolling back to {good}")
        self.cond("Progressing", True, "RollingBack", message)
        self.degraded = ("RolledBack", message)

    def finish_degraded(self, held_back: bool) -> None:
        if self.degraded is None and held_back:
            kept = find(self.status.conditions, "Degraded")
            if kept is not None and kept.reason == "RolledBack":
                self.degraded = (kept.reason, kept.message)
        if self.degraded is None:
            self.cond("Degraded", False, "AsExpected", "")
        else:
            self.cond("Degraded", True, *self.degraded)


async def reconcile(api: KubeApi, stack: Stack, *, now: datetime, emit: Emit) -> Outcome:
    """Bring the stack's children toward its spec; return the status to write (the `status` subresource's)."""
    status = parse_status(stack.status)
    try:
        spec = parse_spec(stack.spec)
    except InvalidSpec as exc:
        message = f"the spec is invalid: {exc}"
        emit("Warning", "InvalidSpec", message)
        status.conditions = set_condition(
            status.conditions, "Degraded", True, "InvalidSpec", message, generation=stack.generation, now=now
        )
        status.observed_generation = stack.generation
        return Outcome(status=_encode(status))
    step = _Step(api, stack, spec, status, now, emit)
    try:
        await step.run()
    except TransientApiError:
        raise
    except ApiError as exc:
        step.degraded = ("ApiRefused", f"the API server refused a request: {exc}")
        emit("Warning", "ApiRefused", step.degraded[1])
    step.finish_degraded(held_back=status.rolled_back_image == spec.image)
    status.observed_generation = stack.generation
    step.outcome.status = _encode(status)
    return step.outcome


def _encode(status: TodoStackStatus) -> dict[str, Any]:
    # Every field is written (None too): a merge patch must clear what no longer holds, e.g. rolloutStartedAt.
    fields = msgspec.structs.fields(TodoStackStatus)
    raw = msgspec.to_builtins(status)
    return {f.encode_name: raw.get(f.encode_name) for f in fields}
