"""How every child of a TodoStack is named and labelled: the owner reference, Kubernetes' recommended
labels, the image's version label, and the ports the children agree on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from todostack_operator import API_VERSION, KIND, MANAGER

__all__ = [
    "HTTP_PORT",
    "METRICS_PORT",
    "SERVICE_PORT",
    "Manifest",
    "Owner",
    "child_metadata",
    "image_digest",
    "image_version",
    "labels",
    "selector_labels",
]

HTTP_PORT = 8000
SERVICE_PORT = 80
METRICS_PORT = 9464  # the service's /metrics listener (TODOSTACK_METRICS_PORT)
Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Owner:
    """The TodoStack the children belong to."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> Manifest:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def image_digest(image: str) -> str:
    """Twelve hex digits naming an image: its sha256 digest when pinned by digest, else a hash of the reference."""
    if "@sha256:" in image:
        return image.rsplit("@sha256:", 1)[1][:12].lower()
    return hashlib.sha256(image.encode()).hexdigest()[:12]


def image_version(image: str) -> str:
    """A label-safe version for app.kubernetes.io/version: the tag, or the digest's first twelve digits."""
    if "@sha256:" in image:
        return image_digest(image)
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in tag)[:63].strip("-_.")
    return safe or "latest"


def selector_labels(owner: Owner, component: str = "api") -> dict[str, str]:
    """The labels a Deployment selects its pods by: stable across versions."""
    return {
        "app.kubernetes.io/name": "todostack",
        "app.kubernetes.io/instance": owner.name,
        "app.kubernetes.io/component": component,
    }


def labels(owner: Owner, component: str, image: str | None = None) -> dict[str, str]:
    """Kubernetes' recommended labels."""
    out = {**selector_labels(owner, component), "app.kubernetes.io/part-of": "todostack"}
    out["app.kubernetes.io/managed-by"] = MANAGER
    if image is not None:
        out["app.kubernetes.io/version"] = image_version(image)
    return out


def child_metadata(owner: Owner, name: str, component: str, image: str | None = None) -> Manifest:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels(owner, component, image),
        "ownerReferences": [owner.reference()],
    }
