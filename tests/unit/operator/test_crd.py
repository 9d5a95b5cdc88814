"""The CRD is generated from the spec structs, committed, valid, and says yes and no to the right specs."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from tests.k8s_schemas import OPERATOR_DIR, custom_schemas, load_all, validate
from todostack_operator.cli import main
from todostack_operator.crd import build_crd, render_crd
from todostack_operator.spec import InvalidSpec, parse_spec

pytestmark = pytest.mark.unit

SAMPLES = sorted((OPERATOR_DIR / "samples").glob("*.yaml"))


def test_the_committed_crd_is_the_generated_one() -> None:
    committed = (OPERATOR_DIR / "crd.yaml").read_text()
    stale = "deploy/operator/crd.yaml is stale: run todostack-operator crd > deploy/operator/crd.yaml"
    assert committed == render_crd(), stale


def test_the_crd_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    assert capsys.readouterr().out == render_crd()


def test_the_crd_is_a_valid_structural_crd() -> None:
    crd = build_crd()
    validate(crd)  # apiextensions.k8s.io/v1 CustomResourceDefinition, strict
    text = json.dumps(crd)
    for forbidden in ('"$ref"', '"anyOf"', '"additionalProperties": false', '"title"', '"default": null'):
        assert forbidden not in text, forbidden
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["scope"] == "Namespaced"
    assert {c["name"] for c in version["additionalPrinterColumns"]} >= {"Serving", "Available", "Degraded", "Age"}


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_the_crd_and_the_operator_accept_the_samples(path: Any) -> None:
    for doc in load_all(path):
        validate(doc)
        parse_spec(doc["spec"])


def _sample() -> dict[str, Any]:
    return copy.deepcopy(load_all(OPERATOR_DIR / "samples" / "todostack.yaml")[0])


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()
BAD_SPECS = [
    pytest.param("spec.image", _DELETE, id="image-missing"),
    pytest.param("spec.image", "", id="image-empty"),
    pytest.param("spec.image", "has a space", id="image-with-space"),
    pytest.param("spec.database", _DELETE, id="database-missing"),
    pytest.param("spec.database.urlSecret.name", "Not_A_Name", id="secret-name-not-dns"),
    pytest.param("spec.replicas", 0, id="replicas-zero"),
    pytest.param("spec.replicas", "two", id="replicas-not-integer"),
    pytest.param("spec.autoscaling.maxReplicas", 0, id="autoscaling-max-zero"),
    pytest.param("spec.autoscaling.targetCpuUtilizationPercentage", 150, id="cpu-target-over-100"),
    pytest.param("spec.resources.requests.cpu", "lots", id="quantity-not-a-quantity"),
    pytest.param("spec.config", [{"name": "PATH", "value": "/bin"}], id="config-not-todostack"),
    pytest.param("spec.config", [{"name": "TODOSTACK_X"}], id="config-without-value"),
    pytest.param("spec.ingress.host", "Todo.Example.COM", id="host-uppercase"),
    pytest.param("spec.ingress.host", _DELETE, id="ingress-without-host"),
    pytest.param("spec.ingress.middlewares.retry.attempts", 0, id="retry-zero-attempts"),
    pytest.param("spec.ingress.middlewares.retry.initialInterval", "soon", id="retry-interval-not-duration"),
    pytest.param("spec.observability.serviceMonitor.interval", "30", id="scrape-interval-without-unit"),
    pytest.param("spec.disruptionBudget.maxUnavailable", 0, id="budget-max-unavailable-zero"),
    pytest.param("spec.rollout.progressDeadlineSeconds", 0, id="deadline-zero"),
]


@pytest.mark.parametrize(("dotted", "value"), BAD_SPECS)
def test_the_crd_and_the_operator_refuse_bad_specs(dotted: str, value: Any) -> None:
    doc = _sample()
    _set(doc, dotted, value)
    schema = custom_schemas()[("todostack.dev/v1alpha1", "TodoStack")]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
    with pytest.raises(InvalidSpec):
        parse_spec(doc["spec"])


@pytest.mark.parametrize(
    ("spec_patch", "words"),
    [
        pytest.param({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas", id="min-above-max"),
        pytest.param(
            {"config": [{"name": "TODOSTACK_A", "value": "1"}, {"name": "TODOSTACK_A", "value": "2"}]},
            "twice",
            id="config-twice",
        ),
    ],
)
def test_the_operator_refuses_what_the_schema_cannot_say(spec_patch: dict[str, Any], words: str) -> None:
    doc = _sample()
    doc["spec"].update(spec_patch)
    with pytest.raises(InvalidSpec, match=words):
        parse_spec(doc["spec"])
