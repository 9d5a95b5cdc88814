"""An in-memory Kubernetes API for the reconcile step's unit tests: a fake, not a mock (it implements `KubeApi`)."""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from typing import Any

from todostack_operator.kube import ApiError

Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class FakeKubeApi:
    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, kind, name)
        self.faults: dict[tuple[str, str], list[ApiError]] = defaultdict(list)  # (verb, kind) → errors to raise
        self.statuses: list[dict[str, Any]] = []

    async def _fault(self, verb: str, kind: str, name: str) -> None:
        await asyncio.sleep(0)  # a real client yields to the loop on every request; so does this one
        self.calls.append((verb, kind, name))
        errors = self.faults.get((verb, kind))
        if errors:
            raise errors.pop(0)

    @staticmethod
    def key_of(manifest: dict[str, Any]) -> Key:
        meta = manifest["metadata"]
        return manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((o for (_, k, _, n), o in self.objects.items() if k == kind and n == name), None)

    def kinds(self) -> list[str]:
        return [kind for (_, kind, _, _) in self.objects]

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        await self._fault("get", kind, name)
        found = self.objects.get((api_version, kind, namespace, name))
        return copy.deepcopy(found)

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        await self._fault("create", manifest["kind"], manifest["metadata"]["name"])
        key = self.key_of(manifest)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", f"{manifest['kind']} {key[3]} already exists")
        stored = copy.deepcopy(manifest)
        stored["metadata"]["generation"] = 1  # as the API server does: spec changes bump it
        self.objects[key] = stored
        return copy.deepcopy(stored)

    async def patch(self, manifest: dict[str, Any]) -> dict[str, Any]:
        await self._fault("patch", manifest["kind"], manifest["metadata"]["name"])
        key = self.key_of(manifest)
        if key not in self.objects:
            raise ApiError(404, "NotFound", "no such object")
        before = self.objects[key]
        after = merge_patch(before, manifest)
        if after.get("spec") != before.get("spec"):
            after["metadata"]["generation"] = before["metadata"].get("generation", 0) + 1
        self.objects[key] = after
        return copy.deepcopy(self.objects[key])

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        await self._fault("delete", kind, name)
        return self.objects.pop((api_version, kind, namespace, name), None) is not None

    async def list(self, api_version: str, kind: str, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        await self._fault("list", kind, "")
        return [
            copy.deepcopy(obj)
            for (av, k, ns, _), obj in self.objects.items()
            if (av, k, ns) == (api_version, kind, namespace)
            and all(obj["metadata"].get("labels", {}).get(lk) == lv for lk, lv in labels.items())
        ]

    async def patch_status(
        self, api_version: str, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> None:
        self.statuses.append(status)
