"""Where the deploy tests find the release pipeline's tools (make deploy-tools) and the shared CRDs.

The tools live in their own venv (.tools/deploy: helm-python-sdk, kubernetes-validate, trivy...), never in the
app's: the tests drive them through deploy/release's scripts, the same code the release pipeline runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOLS_PYTHON = ROOT / ".tools" / "deploy" / "bin" / "python"
RELEASE = ROOT / "deploy" / "release"
CHART = ROOT / "deploy" / "chart" / "todostack"
SHARED = ROOT / ".." / "shared"
# Traefik's Go runtime as deploy/compose.yaml ships it (env_file): the tests' Traefik runs with it too.
TRAEFIK_ENV = ROOT / "deploy" / "traefik.env"
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip loudly without CI; in CI a missing tool is a failure, never a skip."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


def traefik_env() -> dict[str, str]:
    """deploy/traefik.env's ``KEY=VALUE`` lines (``#`` starts a comment line)."""
    pairs = [line.strip().split("=", 1) for line in TRAEFIK_ENV.read_text().splitlines()]
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2 and not pair[0].startswith("#")}


def compose_traefik_flag(name: str) -> str:
    """The value of one of Traefik's ``--name=value`` arguments in deploy/compose.yaml."""
    command = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["traefik"]["command"]
    values = [arg.split("=", 1)[1] for arg in command if arg.split("=", 1)[0] == f"--{name}"]
    assert len(values) == 1, f"deploy/compose.yaml gives Traefik --{name} {len(values)} times"
    return str(values[0])


def go_duration_seconds(text: str) -> float:
    """A Go duration as Traefik takes one (``10s``, ``1m30s``, ``500ms``), in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.fullmatch(r"(?:\d+(?:\.\d+)?(?:h|ms|m|s))+", text)
    assert parts is not None, f"{text!r} is not a Go duration"
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text))


def need_tools() -> Path:
    need(TOOLS_PYTHON.exists(), f"the deploy tools are missing ({TOOLS_PYTHON}): run `make deploy-tools`")
    return TOOLS_PYTHON


def need_root_and_commands(*commands: str) -> None:
    need(os.geteuid() == 0, "the image and registry tests need root (buildah, podman, /etc/containers/certs.d)")
    missing = [c for c in commands if shutil.which(c) is None]
    need(not missing, f"missing commands {missing}: run `make deploy-tools`")


def chart_check(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(need_tools()), str(RELEASE / "chart_check.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


def chart_check_json(*args: str, stdin: str | None = None) -> Any:
    done = chart_check(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
