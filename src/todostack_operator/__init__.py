"""The TodoStack operator: a kopf operator that deploys and keeps running one Todo Stack per `TodoStack` resource.

A separate deployable: it imports nothing of the `todostack` service (an import-linter contract says so).

- `spec`: the resource's spec and status, declared once as msgspec structs;
- `crd`: the CustomResourceDefinition generated from those structs (`todostack-operator crd`);
- `children`: pure builders of every object a TodoStack owns;
- `conditions`: status conditions, set the Kubernetes way;
- `reconcile`: the one idempotent reconcile step, over a small API port;
- `kube`: that port's HTTP implementation (aiohttp, kopf's credentials);
- `handlers`: the kopf wiring (create/update/resume, drift timer, finalizer, probes, login);
- `settings`, `metrics`, `cli`: operating the operator.
"""

GROUP = "todostack.dev"
VERSION = "v1alpha1"
KIND = "TodoStack"
PLURAL = "todostacks"
API_VERSION = f"{GROUP}/{VERSION}"
MANAGER = "todostack-operator"

__all__ = ["API_VERSION", "GROUP", "KIND", "MANAGER", "PLURAL", "VERSION"]
