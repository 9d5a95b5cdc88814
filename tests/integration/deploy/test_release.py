"""The release pipeline end to end against a local Harbor stand-in (docker-registry, TLS, htpasswd).

One run of `deploy/release/pipeline.py` (what `make release` runs) builds, pushes, signs and smoke-tests the
image; the tests then check from outside what the registry holds and what it refuses.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy_tools import RELEASE, ROOT, need_root_and_commands, need_tools

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.timeout(1800)]

REQUIRED = ("buildah", "podman", "skopeo", "docker-registry", "mmdebstrap", "gpg")


@dataclass(frozen=True)
class Registry:
    host: str
    user: str
    password: str
    ca: Path

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def get(
        self, path: str, *, auth: bool = True, accept: str = "", method: str = "GET"
    ) -> tuple[int, Any, dict[str, str]]:
        request = urllib.request.Request(f"https://{self.host}{path}", method=method)
        if auth:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, context=self.ssl_context(), timeout=30) as answer:
                body = answer.read()
                return answer.status, json.loads(body) if body else None, dict(answer.headers)
        except urllib.error.HTTPError as answered:
            return answered.code, None, dict(answered.headers)


@dataclass(frozen=True)
class Release:
    registry: Registry
    out: Path
    summary: dict[str, Any]
    output: str

    @property
    def facts(self) -> dict[str, Any]:
        return dict(self.summary["facts"])

    def verdicts(self) -> dict[str, str]:
        return {s["step"]: s["verdict"] for s in self.summary["steps"]}


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            break
    raise AssertionError(f"the local registry did not start within {timeout} s (exit {process.poll()})")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    need_root_and_commands(*REQUIRED)
    python = need_tools()
    state = tmp_path_factory.mktemp("registry")
    process = subprocess.Popen(
        [str(python), str(RELEASE / "local_registry.py"), "serve", "--state", str(state)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        access = json.loads(_read_line(process, 90))
        yield Registry(access["host"], access["user"], access["password"], Path(access["ca"]))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def release(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """`make release`'s pipeline, every step, against the stand-in."""
    out = tmp_path_factory.mktemp("release")
    env = dict(
        os.environ,
        REGISTRY=registry.host,
        REGISTRY_USER=registry.user,
        REGISTRY_PASSWORD=registry.password,
        REGISTRY_CA=str(registry.ca),
        RELEASE_OUT=str(out),
        VERSION="0.0.0-test",
        # No vulnerability database here, whatever the machine's cache holds: the step must say SKIPPED.
        TRIVY_CACHE_DIR=str(out / "trivy-cache"),
    )
    env.pop("TRIVY_DB", None)
    done = subprocess.run(
        [str(need_tools()), str(RELEASE / "pipeline.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
        cwd=ROOT,
    )
    output = done.stdout + done.stderr
    assert (out / "summary.json").exists(), output[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert done.returncode == 0, output[-4000:]
    return Release(registry, out, summary, output)


def test_every_step_passes_and_the_vulnerability_scan_says_skipped(release: Release) -> None:
    logins = [Path.home() / ".docker" / "config.json", Path.home() / ".config" / "helm" / "registry" / "config.json"]
    leaked = [str(p) for p in logins if p.exists() and release.registry.host in p.read_text()]
    assert leaked == [], "the pipeline wrote the registry's credentials outside its own folder"
    assert release.verdicts() == {
        "static": "passed",
        "chart": "passed",
        "build": "passed",
        "vulns": "skipped",
        "push": "passed",
        "sign": "passed",
        "smoke": "passed",
    }
    assert "SKIPPED vulns: NO VULNERABILITY DATABASE" in release.output
    assert "skipped steps are NOT passed: vulns" in release.output


def test_the_image_is_pulled_back_by_digest(release: Release) -> None:
    facts = release.facts
    digest = facts["image_digest"]
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64
    inspected = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--creds",
            f"{release.registry.user}:{release.registry.password}",
            "--cert-dir",
            str(release.registry.ca.parent),
            f"docker://{facts['image_ref']}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    image = json.loads(inspected.stdout)
    assert image["Digest"] == digest
    assert image["Labels"]["org.opencontainers.image.version"] == "0.0.0-test"


def test_the_chart_is_an_oci_artifact_pulled_by_digest(release: Release) -> None:
    facts = release.facts
    repository = facts["chart_ref"].removeprefix(f"oci://{release.registry.host}/").split("@")[0]
    status, manifest, headers = release.registry.get(
        f"/v2/{repository}/manifests/{facts['chart_digest']}", accept="application/vnd.oci.image.manifest.v1+json"
    )
    assert status == 200
    assert headers["Docker-Content-Digest"] == facts["chart_digest"]
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    ]
    assert (release.out / "chart-pulled").is_dir()


def test_the_sbom_is_attached_as_an_artifact(release: Release) -> None:
    facts = release.facts
    repository, tag = facts["sbom_ref"].removeprefix(f"{release.registry.host}/").rsplit(":", 1)
    status, manifest, _ = release.registry.get(
        f"/v2/{repository}/manifests/{tag}", accept="application/vnd.oci.image.manifest.v1+json"
    )
    assert status == 200
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.cyclonedx+json"]
    sbom = json.loads((release.out / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    names = {c["name"] for c in sbom["components"]}
    assert {"todostack", "litestar", "granian"} <= names


@pytest.fixture(scope="module")
def probe_image(release: Release) -> Iterator[str]:
    """A tiny image of its own (different bytes, so a different digest from the release's)."""
    marker = release.out / "probe.txt"
    marker.write_text(f"unsigned probe {time.time_ns()}\n")
    container = subprocess.run(
        ["buildah", "from", "scratch"], capture_output=True, text=True, timeout=120, check=True
    ).stdout.strip()
    name = f"localhost/todostack-probe:{os.getpid()}"
    try:
        subprocess.run(
            ["buildah", "add", container, str(marker), "/probe.txt"], capture_output=True, timeout=120, check=True
        )
        subprocess.run(["buildah", "commit", "--quiet", container, name], capture_output=True, timeout=120, check=True)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, timeout=120, check=False)
    yield name
    subprocess.run(["buildah", "rmi", name], capture_output=True, timeout=120, check=False)


def test_anonymous_access_and_push_are_refused(release: Release, probe_image: str) -> None:
    registry = release.registry
    assert registry.get("/v2/", auth=False)[0] == 401
    assert registry.get("/v2/todostack/todostack/blobs/uploads/", auth=False, method="POST")[0] == 401
    pushed = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-no-creds",
            "--dest-cert-dir",
            str(registry.ca.parent),
            f"containers-storage:{probe_image}",
            f"docker://{registry.host}/todostack/anonymous:1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ, REGISTRY_AUTH_FILE=str(release.out / "no-such-auth.json"), HOME=str(release.out)),
    )
    assert pushed.returncode != 0
    assert "authentication required" in pushed.stderr
    assert registry.get("/v2/todostack/anonymous/tags/list")[0] == 404


def test_the_policy_admits_the_signed_image_and_refuses_an_unsigned_one(release: Release, probe_image: str) -> None:
    facts = release.facts
    registry = release.registry
    [signed_check, unsigned_check] = facts["verifications"]
    assert signed_check["admitted"] is True
    assert unsigned_check["admitted"] is False
    # An image really pushed without a signature, into the very repository the policy names.
    digest_file = release.out / "unsigned.digest"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-creds",
            f"{registry.user}:{registry.password}",
            "--dest-cert-dir",
            str(registry.ca.parent),
            "--digestfile",
            str(digest_file),
            f"containers-storage:{probe_image}",
            f"docker://{registry.host}/todostack/todostack:unsigned-probe",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    unsigned = f"{registry.host}/todostack/todostack@{digest_file.read_text().strip()}"
    assert unsigned != facts["image_ref"]

    def admitted(reference: str, into: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "skopeo",
                "--policy",
                facts["policy"],
                "--registries.d",
                facts["registries_d"],
                "copy",
                "--quiet",
                "--src-creds",
                f"{registry.user}:{registry.password}",
                "--src-cert-dir",
                str(registry.ca.parent),
                f"docker://{reference}",
                f"dir:{release.out / into}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    refused = admitted(unsigned, "copy-unsigned")
    assert refused.returncode != 0
    assert "a signature was required, but no signature exists" in refused.stderr.lower()
    assert admitted(facts["image_ref"], "copy-signed").returncode == 0


def test_the_smoke_run_was_hardened_and_stopped_cleanly(release: Release) -> None:
    smoke = release.facts["smoke"]
    assert smoke["ref"] == release.facts["image_ref"]
    assert smoke["/healthz"] == smoke["/readyz"] == smoke["/metrics"] == 200
    assert smoke["public /metrics"] == 404
    assert smoke["uid"] != "0"
    assert smoke["image_user"].split(":")[0] == "10001"
    assert smoke["exit_code"] == 0
