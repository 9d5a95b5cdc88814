"""The chart's checks: strict lint, every ci/ scenario rendered and schema-validated, the expected refusals.

Runs in the deploy tools venv (.tools/deploy: helm-python-sdk, kubernetes-validate, jsonschema). Used by the release
pipeline (step 2) and by tests/unit/deploy, so both prove the same thing.

    python deploy/release/chart_check.py check [--chart PATH] [--json]
    python deploy/release/chart_check.py render [--chart PATH_OR_TGZ] [--values FILE]... [--set-json JSON]

`render` prints the rendered objects as JSON ([{"template", "object"}]); a refusal exits 2 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "chart" / "todostack"
# In CI the repository is cloned with shared/ beside it; the CRDs are read from there, never copied.
CRDS = ROOT / ".." / "shared" / "schemas" / "crds"
RELEASE = "todostack"
NAMESPACE = "todostack"

Values = dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Values the chart must refuse, and a fragment of the reason it must give."""

    name: str
    values: Values
    reason: str


# What must never render. Typos and bad enums are the schema's job; combinations are the templates' `fail`.
REFUSALS = (
    Refusal("typo-top-level", {"replicaCont": 2}, "additional properties 'replicaCont' not allowed"),
    Refusal("typo-nested", {"image": {"repositry": "x"}}, "additional properties 'repositry' not allowed"),
    Refusal("bad-enum", {"database": {"type": "mysql"}}, "value must be one of"),
    Refusal("bad-pull-policy", {"image": {"pullPolicy": "Sometimes"}}, "value must be one of"),
    Refusal("short-secret-key", {"secret": {"secretKey": "too-short"}}, "secretKey"),
    Refusal("sqlite-replicas", {"replicaCount": 2}, "database.type=sqlite allows replicaCount 1"),
    Refusal("sqlite-autoscaling", {"autoscaling": {"enabled": True}}, "database.type=sqlite cannot autoscale"),
    Refusal("postgresql-without-url", {"database": {"type": "postgresql"}}, "needs database.postgresql.url"),
    Refusal(
        "grace-too-short",
        {"terminationGracePeriodSeconds": 10},
        "terminationGracePeriodSeconds (10) must exceed",
    ),
)


class ChartRefused(Exception):
    """The chart refused the values (schema or a template's `fail`)."""


def oldest_kubernetes(chart: Path = CHART) -> str:
    """The lowest Kubernetes version the chart's `kubeVersion` admits, e.g. "1.29.0"."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    found = re.search(r">=\s*v?(\d+)\.(\d+)(?:\.(\d+))?", str(meta.get("kubeVersion", "")))
    if not found:
        raise ValueError(f"{chart}/Chart.yaml: kubeVersion must name a lower bound (>=X.Y.Z)")
    major, minor, patch = found.groups()
    return f"{major}.{minor}.{patch or 0}"


def load_chart(chart: Path | str) -> helm_python.Chart:
    return helm_python.Chart.load(str(chart))


def render(chart: Path | str, values: Values, *, upgrade: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """Render as `helm template` would (plus NOTES), returning (template, object) pairs; refusals raise."""
    loaded = load_chart(chart)
    try:
        out = loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=not upgrade, is_upgrade=upgrade)
    except (helm_python.HelmValuesError, helm_python.HelmRenderError) as refused:
        raise ChartRefused(str(refused)) from refused
    finally:
        loaded.close()
    objects = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append((template, document))
    return objects


def lint(chart: Path | str) -> list[str]:
    """Strict lint against the oldest Kubernetes the chart claims: errors and warnings, as messages."""
    report = helm_python.lint(str(chart), strict=True, kube_version="v" + oldest_kubernetes(Path(chart)))
    problems = [str(e) for e in report.get("errors", [])]
    problems += [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    return problems


def _strict(schema: Any) -> Any:
    """A CRD schema as the API server's strict field validation reads it: x-kubernetes-* keys dropped, and
    unknown fields refused wherever the CRD declares its properties and does not preserve unknown fields."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schemas(crds: Path = CRDS) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict openAPIV3Schema of every CRD in `crds`."""
    schemas = {}
    for path in sorted(crds.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if schema:
                    schemas[(f"{group}/{version['name']}", kind)] = _strict(copy.deepcopy(schema))
    return schemas


@dataclass
class Validation:
    # Objects a schema was applied to (whether they passed or not: failures are in `problems`).
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    # Kinds with no schema here (no CRD in ../shared/schemas/crds): named, never counted as validated.
    unvalidated: list[str] = field(default_factory=list)


def validate(
    objects: list[tuple[str, dict[str, Any]]],
    kube_versions: tuple[str, ...],
    crds: Mapping[tuple[str, str], dict[str, Any]],
) -> Validation:
    result = Validation()
    for template, obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        where = f"{template} {key[1]}/{obj.get('metadata', {}).get('name')}"
        if key in crds:
            errors = sorted(jsonschema.Draft7Validator(crds[key]).iter_errors(obj), key=lambda e: list(e.path))
            result.problems += [f"{where}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors]
            result.checked += 1
            continue
        try:
            for version in kube_versions:
                kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            result.unvalidated.append(where)
        except kubernetes_validate.ValidationError as invalid:
            path = "/".join(str(p) for p in invalid.path)
            result.problems.append(f"{where}: Kubernetes {invalid.version}: {path}: {invalid.message}")
            result.checked += 1
        else:
            result.checked += 1
    return result


def scenarios(chart: Path = CHART) -> Iterator[tuple[str, Values]]:
    """The chart's defaults, then every ci/*-values.yaml."""
    yield "defaults", {}
    for path in sorted((chart / "ci").glob("*-values.yaml")):
        yield path.name.removesuffix("-values.yaml"), yaml.safe_load(path.read_text()) or {}


def check(chart: Path = CHART, crds: Path = CRDS) -> dict[str, Any]:
    """Everything step 2 of the pipeline proves about the chart, as a report; `ok` says whether all held."""
    oldest = oldest_kubernetes(chart)
    kube_versions = (oldest, kubernetes_validate.latest_version())
    schemas = crd_schemas(crds)
    report: dict[str, Any] = {"kubernetes": list(kube_versions), "lint": lint(chart), "scenarios": {}, "refusals": {}}
    problems: list[str] = [f"lint: {p}" for p in report["lint"]]
    for name, values in scenarios(chart):
        for upgrade in (False, True):
            try:
                objects = render(chart, values, upgrade=upgrade)
            except ChartRefused as refused:
                problems.append(f"scenario {name}: refused: {refused}")
                break
            result = validate(objects, kube_versions, schemas)
            problems += [f"scenario {name}: {p}" for p in result.problems]
            report["scenarios"][name] = {
                "objects": len(objects),
                "kinds": sorted({o["kind"] for _, o in objects}),
                "validated": result.checked,
                "unvalidated": result.unvalidated,
            }
    for refusal in REFUSALS:
        try:
            render(chart, refusal.values)
        except ChartRefused as refused:
            given = str(refused)
            report["refusals"][refusal.name] = given.strip().splitlines()[-1][:240]
            if refusal.reason not in given:
                problems.append(f"refusal {refusal.name}: refused for another reason: {given}")
        else:
            problems.append(f"refusal {refusal.name}: rendered, but must be refused: {refusal.values}")
    report["problems"] = problems
    report["ok"] = not problems
    return report


README_BEGIN = "<!-- values-reference:begin (make the table with: chart_check.py readme) -->"
README_END = "<!-- values-reference:end -->"
_KEY = re.compile(r"^(\s*)([A-Za-z][\w.-]*):")


def values_reference(chart: Path = CHART) -> list[tuple[str, str, str]]:
    """(key path, default, description) of every key values.yaml documents with a `# --` comment."""
    text = (chart / "values.yaml").read_text()
    defaults = yaml.safe_load(text)
    rows: list[tuple[str, str, str]] = []
    parents: list[tuple[int, str]] = []
    comment: list[str] = []
    list_indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if list_indent is not None and stripped and indent > list_indent:
            continue  # inside a list value: its items are the default, not keys
        list_indent = None
        if stripped.startswith("#"):
            if stripped.startswith("# --") or comment:
                comment.append(stripped.removeprefix("#").strip().removeprefix("--").strip())
            continue
        found = _KEY.match(line)
        if not found:
            if stripped.startswith("-"):
                list_indent = indent - 1
            comment = []
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = [p for _, p in parents] + [found.group(2)]
        parents.append((indent, found.group(2)))
        if comment:
            value: Any = defaults
            for part in path:
                value = value[part]
            rows.append((".".join(path), json.dumps(value, separators=(",", ":")), " ".join(comment)))
        comment = []
    return rows


def values_table(chart: Path = CHART) -> str:
    lines = ["| key | default | description |", "| --- | --- | --- |"]
    for key, default, description in values_reference(chart):
        shown, said = default.replace("|", "\\|"), description.replace("|", "\\|")
        lines.append(f"| `{key}` | `{shown}` | {said} |")
    return "\n".join(lines)


def readme_with_table(chart: Path = CHART) -> str:
    """The chart's README.md with its values table regenerated from values.yaml."""
    readme = (chart / "README.md").read_text()
    before, rest = readme.split(README_BEGIN, 1)
    _, after = rest.split(README_END, 1)
    return f"{before}{README_BEGIN}\n{values_table(chart)}\n{README_END}{after}"


def _merge(base: Values, extra: Mapping[str, Any]) -> Values:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check_cmd = sub.add_parser("check")
    check_cmd.add_argument("--chart", type=Path, default=CHART)
    check_cmd.add_argument("--crds", type=Path, default=CRDS)
    check_cmd.add_argument("--json", action="store_true")
    render_cmd = sub.add_parser("render")
    render_cmd.add_argument("--chart", default=str(CHART))
    render_cmd.add_argument("--values", type=Path, action="append", default=[])
    render_cmd.add_argument("--set-json", default="{}")
    render_cmd.add_argument("--upgrade", action="store_true")
    readme_cmd = sub.add_parser("readme", help="regenerate the values table in the chart's README.md")
    readme_cmd.add_argument("--chart", type=Path, default=CHART)
    readme_cmd.add_argument("--check", action="store_true", help="exit 1 when the table is out of date")
    all_cmd = sub.add_parser("render-scenarios", help="every scenario rendered: {name: [{template, object}]}")
    all_cmd.add_argument("--chart", type=Path, default=CHART)
    validate_cmd = sub.add_parser("validate", help="validate the objects given as JSON on stdin")
    validate_cmd.add_argument("--chart", type=Path, default=CHART)
    validate_cmd.add_argument("--crds", type=Path, default=CRDS)
    args = parser.parse_args(argv)
    helm_python.disable_logging()

    if args.command == "readme":
        fresh = readme_with_table(args.chart)
        if args.check:
            stale = fresh != (args.chart / "README.md").read_text()
            if stale:
                print("the chart's README.md values table is out of date: run chart_check.py readme", file=sys.stderr)
            return 1 if stale else 0
        (args.chart / "README.md").write_text(fresh)
        return 0

    if args.command == "render-scenarios":
        rendered = {
            name: [{"template": t, "object": o} for t, o in render(args.chart, values)]
            for name, values in scenarios(args.chart)
        }
        json.dump(rendered, sys.stdout)
        return 0

    if args.command == "validate":
        given = [(str(i), o) for i, o in enumerate(json.load(sys.stdin))]
        oldest = oldest_kubernetes(args.chart)
        result = validate(given, (oldest,), crd_schemas(args.crds))
        json.dump(
            {"checked": result.checked, "problems": result.problems, "unvalidated": result.unvalidated}, sys.stdout
        )
        return 0

    if args.command == "render":
        values: Values = {}
        for path in args.values:
            values = _merge(values, yaml.safe_load(path.read_text()) or {})
        values = _merge(values, json.loads(args.set_json))
        try:
            objects = render(args.chart, values, upgrade=args.upgrade)
        except ChartRefused as refused:
            print(str(refused), file=sys.stderr)
            return 2
        json.dump([{"template": t, "object": o} for t, o in objects], sys.stdout)
        return 0

    report = check(args.chart, args.crds)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        for name, scenario in report["scenarios"].items():
            print(
                f"chart: {name}: {scenario['objects']} objects, {scenario['validated']} schema-validated "
                f"(Kubernetes {' and '.join(report['kubernetes'])}, CRDs)"
                + (
                    f"; NOT validated (no schema here): {', '.join(scenario['unvalidated'])}"
                    if scenario["unvalidated"]
                    else ""
                )
            )
        for name, reason in report["refusals"].items():
            print(f"chart: refused as expected: {name}: {reason}")
        for problem in report["problems"]:
            print(f"chart: PROBLEM: {problem}", file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
