"""deploy/chaos: the Litmus ChaosExperiments and ChaosEngines, validated against Litmus's CRDs
(``<repo>/../shared/schemas/crds``), and the probes every engine must carry."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.pg import in_ci

ROOT = Path(__file__).resolve().parents[3]
CHAOS = ROOT / "deploy" / "chaos"
CRDS = ROOT / ".." / "shared" / "schemas" / "crds"
EXPERIMENTS = ("pod-delete", "container-kill", "pod-cpu-hog", "pod-memory-hog", "pod-network-latency")
CHART_LABELS = "app.kubernetes.io/name=todostack,app.kubernetes.io/instance=todostack"


def _strip_kubernetes_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_kubernetes_keys(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_strip_kubernetes_keys(v) for v in node]
    return node


@functools.cache
def _validator(crd_file: str) -> jsonschema.protocols.Validator:
    schema = _schema(crd_file)
    return jsonschema.validators.validator_for(schema)(schema)


def _schema(crd_file: str) -> dict[str, Any]:
    path = CRDS / crd_file
    if not path.exists():
        message = f"the CRDs are not at {CRDS} (the shared folder beside the repository)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(f"SKIPPING: {message}")
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return _strip_kubernetes_keys(version["schema"]["openAPIV3Schema"])  # type: ignore[no-any-return]


def _documents(folder: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((CHAOS / folder).glob("*.yaml")):
        (doc,) = list(yaml.safe_load_all(path.read_text()))
        found[path.stem] = doc
    return found


def test_there_is_an_experiment_and_an_engine_for_each_fault() -> None:
    assert set(_documents("experiments")) == set(EXPERIMENTS)
    assert set(_documents("engines")) == set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_chaos_experiment_is_valid_against_the_crd(name: str) -> None:
    doc = _documents("experiments")[name]
    _validator("litmuschaos.io_chaosexperiment_crd.yaml").validate(doc)
    assert doc["kind"] == "ChaosExperiment"
    assert doc["metadata"]["name"] == name
    assert f"-name {name}" in " ".join(doc["spec"]["definition"]["args"])


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_chaos_engine_is_valid_and_targets_the_charts_deployment(name: str) -> None:
    doc = _documents("engines")[name]
    _validator("litmuschaos.io_chaosengine_crd.yaml").validate(doc)
    assert doc["kind"] == "ChaosEngine"
    assert doc["spec"]["appinfo"] == {"appns": "todostack", "applabel": CHART_LABELS, "appkind": "deployment"}
    assert [e["name"] for e in doc["spec"]["experiments"]] == [name]


def test_the_validation_catches_a_probe_the_crd_refuses() -> None:
    doc = copy.deepcopy(_documents("engines")["pod-delete"])
    doc["spec"]["experiments"][0]["spec"]["probe"][0]["mode"] = "Sometimes"
    with pytest.raises(jsonschema.ValidationError, match="Sometimes"):
        _validator("litmuschaos.io_chaosengine_crd.yaml").validate(doc)


def _probes(name: str) -> dict[str, dict[str, Any]]:
    (experiment,) = _documents("engines")[name]["spec"]["experiments"]
    return {p["type"] + ":" + p["name"]: p for p in experiment["spec"]["probe"]}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_engine_probes_readiness_the_5xx_ratio_p99_and_the_ledger(name: str) -> None:
    probes = _probes(name)
    http = [p for p in probes.values() if p["type"] == "httpProbe"]
    assert len(http) == 1
    assert http[0]["mode"] == "Continuous"
    assert http[0]["httpProbe/inputs"]["url"].endswith("/readyz")
    assert http[0]["httpProbe/inputs"]["method"]["get"] == {"criteria": "==", "responseCode": "200"}
    queries = [p["promProbe/inputs"]["query"] for p in probes.values() if p["type"] == "promProbe"]
    assert any(re.search(r'todostack_http_requests_total\{[^}]*status=~"5\.\."', q) for q in queries)
    assert any("histogram_quantile(0.99" in q and "http_server_request_duration_seconds_bucket" in q for q in queries)
    (cmd,) = [p for p in probes.values() if p["type"] == "cmdProbe"]
    inputs = cmd["cmdProbe/inputs"]
    assert "/ledger/ledger_check.py run" in inputs["command"]
    assert inputs["comparator"] == {"type": "string", "criteria": "contains", "value": '"verdict": "holds"'}
    mounted = {v["name"]: v["configMap"]["name"] for v in inputs["source"]["volumes"]}
    assert mounted == {"ledger-check": "todostack-ledger-check"}
    assert inputs["source"]["volumeMount"] == [{"name": "ledger-check", "mountPath": "/ledger"}]


def test_the_kustomization_lists_every_manifest_and_ships_the_ledger_check() -> None:
    kustomization = yaml.safe_load((CHAOS / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {str(p.relative_to(CHAOS)) for p in CHAOS.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk
    (generated,) = kustomization["configMapGenerator"]
    assert generated["name"] == "todostack-ledger-check"
    assert generated["files"] == ["ledger_check.py"]
    assert (CHAOS / "ledger_check.py").exists()


def test_the_service_account_the_engines_use_is_defined() -> None:
    docs = list(yaml.safe_load_all((CHAOS / "rbac.yaml").read_text()))
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    for doc in _documents("engines").values():
        assert doc["spec"]["chaosServiceAccount"] in accounts
