"""The release pipeline's bookkeeping: a step that cannot run is SKIPPED, never passed; unknown steps are refused."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy_tools import RELEASE, ROOT, need_tools

pytestmark = [pytest.mark.unit, pytest.mark.deploy]


def _pipeline(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(need_tools()), str(RELEASE / "pipeline.py")],
        env={**os.environ, "RELEASE_OUT": str(tmp_path / "out"), "TRIVY_CACHE_DIR": str(tmp_path / "cache"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_without_a_vulnerability_database_the_scan_is_skipped_loudly(tmp_path: Path) -> None:
    done = _pipeline(tmp_path, RELEASE_STEPS="vulns", TRIVY_DB="")
    assert done.returncode == 0, done.stderr
    assert "SKIPPED vulns: NO VULNERABILITY DATABASE" in done.stdout
    assert "skipped steps are NOT passed: vulns" in done.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["steps"] == [
        {
            "step": "vulns",
            "verdict": "skipped",
            "seconds": summary["steps"][0]["seconds"],
            "detail": summary["steps"][0]["detail"],
        }
    ]
    assert "NOT scanned" in summary["steps"][0]["detail"]


def test_a_scan_with_a_database_but_no_image_fails_instead_of_passing(tmp_path: Path) -> None:
    (tmp_path / "cache" / "db").mkdir(parents=True)
    (tmp_path / "cache" / "db" / "trivy.db").write_bytes(b"")
    done = _pipeline(tmp_path, RELEASE_STEPS="vulns")
    assert done.returncode == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["verdict"] for s in summary["steps"]] == ["failed"]
    assert summary["ok"] is False


def test_unknown_steps_are_refused(tmp_path: Path) -> None:
    done = _pipeline(tmp_path, RELEASE_STEPS="static,deploy-to-prod")
    assert done.returncode == 2
    assert "unknown steps ['deploy-to-prod']" in done.stderr
