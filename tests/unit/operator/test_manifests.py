"""deploy/operator: every manifest valid for its kind; RBAC grants what the code uses and nothing more."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_kube import FakeKubeApi
from tests.k8s_schemas import OPERATOR_DIR, load_all, validate
from tests.unit.operator.test_reconcile import V1, V2, World
from todostack_operator.kube import PLURALS

pytestmark = pytest.mark.unit

MANIFESTS = sorted(OPERATOR_DIR.glob("*.yaml"))
DOCS = [(path.name, doc) for path in MANIFESTS for doc in load_all(path)]
GROUPS = {
    "Job": "batch",
    "Deployment": "apps",
    "Service": "",
    "HorizontalPodAutoscaler": "autoscaling",
    "PodDisruptionBudget": "policy",
    "Middleware": "traefik.io",
    "IngressRoute": "traefik.io",
    "ServiceMonitor": "monitoring.coreos.com",
    "Pod": "",
}


@pytest.mark.parametrize("doc", [d for _, d in DOCS], ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in DOCS])
def test_every_manifest_is_valid(doc: dict[str, Any]) -> None:
    validate(doc)


def _one(kind: str) -> dict[str, Any]:
    return next(doc for _, doc in DOCS if doc["kind"] == kind)


def _grants() -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in _one("ClusterRole")["rules"]:
        assert "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"], rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


async def _calls_of_a_full_life() -> set[tuple[str, str]]:
    """Every (verb, kind) the reconcile step uses, over a life with every feature switched on and off."""
    full = {
        "autoscaling": {"minReplicas": 2, "maxReplicas": 4},
        "ingress": {"host": "todo.example.com", "middlewares": {"retry": {}, "rateLimit": {}, "circuitBreaker": {}}},
        "observability": {"serviceMonitor": {}},
    }
    world = World(**full)
    await world.serving(V1)
    await world.serving(V2)
    for (_, kind, _, _), obj in world.api.objects.items():
        if kind != "Job":
            obj["spec"] = {}  # drift on every child, put back by a patch
    await world.step()
    for key in full:
        del world.spec[key]
    world.spec["disruptionBudget"] = {"enabled": False}
    await world.step()
    assert isinstance(world.api, FakeKubeApi)
    return {(verb, kind) for verb, kind, _ in world.api.calls}


async def test_rbac_grants_the_children_exactly_the_verbs_the_code_uses() -> None:
    used = await _calls_of_a_full_life()
    grants = _grants()
    for kind, group in GROUPS.items():
        granted = grants.get((group, PLURALS[kind]), set())
        wanted = {verb for verb, k in used if k == kind}
        assert wanted == granted, f"{kind}: the code uses {sorted(wanted)}, RBAC grants {sorted(granted)}"
    assert grants[("todostack.dev", "todostacks/status")] == {"get", "patch"}
    assert "delete" not in grants[("todostack.dev", "todostacks")]


def test_the_operator_deployment_is_probed_and_peered() -> None:
    deploy = _one("Deployment")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    assert ports[probe["port"]] == int(env["TODOSTACK_OPERATOR_HEALTH_PORT"])
    assert ports["metrics"] == int(env["TODOSTACK_OPERATOR_METRICS_PORT"])
    assert deploy["spec"]["replicas"] > 1
    peering = _one("ClusterKopfPeering")
    assert env["TODOSTACK_OPERATOR_PEERING"] == peering["metadata"]["name"]
    assert pod["serviceAccountName"] == _one("ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    binding = _one("ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == deploy["metadata"]["namespace"]


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    dockerfile = OPERATOR_DIR / "Dockerfile"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_runs_the_operator_as_non_root() -> None:
    lines = [line.strip() for line in (OPERATOR_DIR / "Dockerfile").read_text().splitlines()]
    assert any(line.startswith("ARG BASE_IMAGE=") for line in lines)
    assert '".[operator]"' in "\n".join(lines)
    user = next(line for line in lines if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["todostack-operator"]' in lines
    assert 'CMD ["run"]' in lines
