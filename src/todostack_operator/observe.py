"""Reading what the cluster shows: a live object against its declaration, a Job's state, a rollout's
progress, and pods that will not come up. Pure functions of the manifests the API server returned."""

from __future__ import annotations

from typing import Any

from todostack_operator.naming import Manifest

__all__ = ["availability", "container_image", "contains", "job_state", "pod_failure"]


def contains(have: Any, want: Any) -> bool:
    """Whether the live object `have` carries everything `want` declares (the server may add defaults)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and contains(have[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(contains, have, want))
    return bool(have == want)


def container_image(deploy: Manifest | None) -> str | None:
    if deploy is None:
        return None
    containers = deploy.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    api = next((c for c in containers if c.get("name") == "api"), None)
    return None if api is None else api.get("image")


def job_state(job: Manifest) -> tuple[str, str]:
    """`succeeded`, `failed` or `running`, with the Job controller's words for a failure."""
    status = job.get("status", {})
    for condition in status.get("conditions", []):
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded", ""
        if condition.get("type") == "Failed":
            return "failed", f"{condition.get('reason', 'Failed')}: {condition.get('message', '')}".rstrip(": ")
    if status.get("succeeded", 0) >= 1:
        return "succeeded", ""
    limit = job.get("spec", {}).get("backoffLimit", 6)
    if status.get("failed", 0) > limit:
        return "failed", f"{status['failed']} failed pods, over the backoff limit of {limit}"
    return "running", ""


def availability(deploy: Manifest | None, image: str) -> tuple[bool, str]:
    """Whether the Deployment has all its replicas updated, ready and available on `image`."""
    if deploy is None:
        return False, "the Deployment does not exist yet"
    if container_image(deploy) != image:
        return False, f"the Deployment does not run {image} yet"
    generation = deploy.get("metadata", {}).get("generation")
    status = deploy.get("status", {})
    if generation is not None and status.get("observedGeneration", 0) < generation:
        return False, f"the Deployment controller has not observed generation {generation} yet"
    want = deploy.get("spec", {}).get("replicas", status.get("replicas", 1))
    updated, ready, available = (status.get(k, 0) for k in ("updatedReplicas", "readyReplicas", "availableReplicas"))
    ok = min(updated, ready, available) >= want
    return ok, f"{available}/{want} replicas available, {updated} updated, on {image}"


_POD_FAILURES = {"CrashLoopBackOff": "is crash-looping", "ImagePullBackOff": "cannot pull its image"}


def pod_failure(pods: list[Manifest], image: str) -> str | None:
    """The first new pod that crash-loops, cannot pull, or was OOM-killed, in words."""
    for pod in pods:
        name = pod.get("metadata", {}).get("name", "?")
        for state in pod.get("status", {}).get("containerStatuses", []):
            if state.get("image", image) != image:
                continue
            waiting = state.get("state", {}).get("waiting", {}).get("reason")
            if waiting in _POD_FAILURES:
                return f"pod {name} {_POD_FAILURES[waiting]} ({waiting})"
            for where in ("state", "lastState"):
                if state.get(where, {}).get("terminated", {}).get("reason") == "OOMKilled":
                    return f"pod {name} was OOM-killed (OOMKilled)"
    return None
