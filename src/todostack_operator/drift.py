"""Drift repair: every declared child is created when missing and patched when it differs from its
declaration; the children of a feature switched off are deleted (only those this operator manages)."""

from __future__ import annotations

from collections.abc import Callable

from todostack_operator import MANAGER
from todostack_operator.edge import MIDDLEWARE_SUFFIXES
from todostack_operator.kube import KubeApi, create_or_patch
from todostack_operator.naming import Manifest, Owner
from todostack_operator.observe import contains

__all__ = ["Emit", "apply_declared", "delete_unwanted"]

Emit = Callable[[str, str, str], None]  # (type: Normal | Warning, reason, message)


async def apply_declared(api: KubeApi, wanted: list[Manifest], *, drift: bool, emit: Emit) -> list[str]:
    """Create or patch each of ``wanted``; returns what was repaired (on a ``drift`` pass: any change)."""
    repaired: list[str] = []
    for manifest in wanted:
        meta = manifest["metadata"]
        label = f"{manifest['kind']}/{meta['name']}"
        current = await api.get(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
        if current is None:
            await create_or_patch(api, manifest)
            verb = "recreated (it had been deleted)" if drift else "created"
            emit("Normal", "DriftRepaired" if drift else "Created", f"{label} {verb}")
        elif not contains(current, manifest):
            await api.patch(manifest)
            emit("Normal", "DriftRepaired" if drift else "Updated", f"{label} put back as declared")
        else:
            continue
        if drift:
            repaired.append(label)
    return repaired


async def delete_unwanted(api: KubeApi, owner: Owner, wanted: set[tuple[str, str]], emit: Emit) -> None:
    """Children of a feature switched off (autoscaling, budget, ingress, monitor) are removed."""
    name, ns = owner.name, owner.namespace
    optional = [
        ("autoscaling/v2", "HorizontalPodAutoscaler", name),
        ("policy/v1", "PodDisruptionBudget", name),
        ("traefik.io/v1alpha1", "IngressRoute", name),
        ("monitoring.coreos.com/v1", "ServiceMonitor", name),
        *(("traefik.io/v1alpha1", "Middleware", f"{name}-{s}") for s in MIDDLEWARE_SUFFIXES),
    ]
    for api_version, kind, child in optional:
        if (kind, child) in wanted:
            continue
        current = await api.get(api_version, kind, ns, child)
        labels = (current or {}).get("metadata", {}).get("labels", {})
        if labels.get("app.kubernetes.io/managed-by") == MANAGER and labels.get("app.kubernetes.io/instance") == name:
            await api.delete(api_version, kind, ns, child)
            emit("Normal", "Deleted", f"{kind}/{child} deleted: no longer declared")
