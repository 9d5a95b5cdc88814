"""Offline validation of Kubernetes objects: built-in kinds by kubernetes-validate (strict: unknown fields fail),
custom resources against their CRD's openAPIV3Schema with jsonschema (the CRDs in `<repo>/../shared/schemas/crds/`
and the operator's own generated CRD)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_CRDS = REPO / ".." / "shared" / "schemas" / "crds"
OPERATOR_DIR = REPO / "deploy" / "operator"
KUBERNETES_VERSION = "1.32"


def _without_extensions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_extensions(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_without_extensions(v) for v in node]
    return node


def crd_schemas(crd: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the version's openAPIV3Schema, without `x-kubernetes-*` keys."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    return {
        (f"{group}/{version['name']}", kind): _without_extensions(version["schema"]["openAPIV3Schema"])
        for version in crd["spec"]["versions"]
    }


@cache
def custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    paths = [*sorted(SHARED_CRDS.glob("*.yaml")), *sorted(OPERATOR_DIR.glob("*.yaml"))]
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                out.update(crd_schemas(doc))
    return out


def validate(obj: dict[str, Any]) -> None:
    """Raise when `obj` is not a valid object of its kind."""
    key = (obj["apiVersion"], obj["kind"])
    schema = custom_schemas().get(key)
    if schema is not None:
        jsonschema.validate(obj, schema, cls=jsonschema.Draft7Validator)
        return
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
