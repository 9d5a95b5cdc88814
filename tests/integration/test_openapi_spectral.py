"""Spectral's OWASP ruleset on the production OpenAPI document: no error, only explained warnings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from litestar.testing import TestClient

from tests.pg import in_ci
from todostack.bootstrap import create_app
from todostack.runtime import Settings

ROOT = Path(__file__).resolve().parents[2]
SPECTRAL = ROOT / ".tools" / "spectral" / "node_modules" / ".bin" / "spectral"
RULESET = ROOT / ".spectral.yaml"
ERROR, WARNING = 0, 1

# The production settings with every optional route on, so that the linted document holds every
# route a deployment can serve: the Todo-Backend demo and the admin's /debug/pprof.
PRODUCTION = {
    "TODOSTACK_ENV": "production",
    "TODOSTACK_DATABASE_URL": "memory://",
    "TODOSTACK_SECRET_KEY": "s" * 48,
    "TODOSTACK_TODOBACKEND": "on",
    "TODOSTACK_ADMIN_TOKEN": "a" * 48,
}


def _spectral() -> Path:
    if not SPECTRAL.exists():
        message = f"{SPECTRAL} is missing: run `make spectral`"
        if in_ci():
            pytest.fail(f"{message}; with CI=true the Spectral contract must run", pytrace=False)
        pytest.skip(message)
    return SPECTRAL


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    spectral = _spectral()
    with TestClient(create_app(Settings.from_env(PRODUCTION))) as client:
        served = client.get("/api/openapi.json")
    assert served.status_code == 200
    document = tmp_path_factory.mktemp("openapi") / "openapi.json"
    document.write_bytes(served.content)
    # Spectral resolves the npm ruleset named in `extends` from the ruleset file's folder: a copy
    # beside the installed node_modules.
    ruleset = spectral.parents[2] / RULESET.name
    shutil.copyfile(RULESET, ruleset)
    run = subprocess.run(
        [str(spectral), "lint", "--ruleset", str(ruleset), "--format", "json", "--quiet", str(document)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.stdout.strip(), f"spectral printed nothing (exit {run.returncode}): {run.stderr[-2000:]}"
    found: list[dict[str, object]] = json.loads(run.stdout)
    return found


def _where(finding: dict[str, object]) -> str:
    path = finding.get("path")
    return ".".join(map(str, path)) if isinstance(path, list) else "?"


def test_the_production_document_has_no_spectral_error(findings: list[dict[str, object]]) -> None:
    errors = [f"{f['code']} at {_where(f)}: {f['message']}" for f in findings if f["severity"] == ERROR]
    assert errors == []


def test_every_remaining_warning_is_explained_in_the_ruleset(findings: list[dict[str, object]]) -> None:
    explained = set(yaml.safe_load(RULESET.read_text())["rules"])
    unexplained = sorted({str(f["code"]) for f in findings if f["severity"] == WARNING} - explained)
    assert unexplained == []
