"""The release pipeline: one entry point (`make release`), the same seven steps here and in a real CI.

    1 static   hadolint, shellcheck, yamllint, `trivy config` (HIGH/CRITICAL fail)
    2 chart    strict lint, every ci/ scenario rendered and validated (kubernetes-validate --strict, CRDs),
               the expected refusals; the chart packaged
    3 build    the image (buildah, layer cache), a CycloneDX SBOM, a secret scan of the image
    4 vulns    Trivy's vulnerability scan, failing on fixable HIGH/CRITICAL; SKIPPED (never passed) without a
               vulnerability database
    5 push     the image by digest, the chart as an OCI artifact, the SBOM as an artifact (by tag: no referrers
               API in distribution 2.8); the chart pulled back by digest and rendered from the pulled archive
    6 sign     GPG simple signing of the pushed digest; verification accepts it and refuses it unsigned
    7 smoke    the image pulled by digest and run: read-only, no capabilities, no new privileges; /healthz,
               /readyz, /metrics (its own port; 404 on the public one); not root; SIGTERM exits 0 within
               the grace period

Parameters (environment):
    REGISTRY            host[:port] of the registry (Harbor); empty: a local stand-in is started for the run
    REGISTRY_USER       robot account / user;  REGISTRY_PASSWORD  its secret
    REGISTRY_CA         CA certificate of the registry when it is not publicly trusted
    IMAGE               repository inside the registry (default todostack/todostack)
    CHART_REPOSITORY    OCI path for charts (default todostack/charts)
    VERSION             image tag and chart appVersion (default: pyproject version + git revision)
    BASE_IMAGE, UV_IMAGE  build arguments; empty: built locally (deploy/release/base-images.sh)
    SIGN_KEY            GPG fingerprint to sign with (GNUPGHOME holds it); empty: an ephemeral key for this run
    SIGSTORE            directory of the signature lookaside store (default RELEASE_OUT/sigstore)
    TRIVY_DB            "download" lets Trivy fetch its vulnerability database; else an existing one is used
    RELEASE_STEPS       comma-separated subset of the steps (default: all)
    RELEASE_OUT         where the run writes its evidence (default var/release)

The run ends with a summary of each step's verdict (passed, failed, skipped) in RELEASE_OUT/summary.json and on
stdout; it exits non-zero when any step failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chart_check
from local_registry import LocalRegistry

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent
STEPS = ("static", "chart", "build", "vulns", "push", "sign", "smoke")
LOCAL_IMAGE = "localhost/todostack"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class StepFailed(Exception):
    """A check of the step did not hold."""


class StepSkipped(Exception):
    """The step could not run here; recorded as skipped, never as passed."""


@dataclass
class Verdict:
    step: str
    verdict: str
    seconds: float
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


def say(message: str) -> None:
    print(f"release: {message}", flush=True)


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=cwd)
    if check and done.returncode != 0:
        shown = " ".join(command)
        raise StepFailed(f"`{shown}` exited {done.returncode}: {(done.stderr or done.stdout).strip()[-1500:]}")
    return done


def tool(name: str) -> str:
    """A tool of the deploy venv (hadolint, trivy...), else from PATH."""
    candidate = TOOLS / name
    return str(candidate) if candidate.exists() else name


@dataclass
class Context:
    out: Path
    registry: str
    user: str
    password: str
    cert_dir: Path | None
    image: str
    chart_repository: str
    version: str
    revision: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def remote_image(self) -> str:
        return f"{self.registry}/{self.image}"

    @property
    def authfile(self) -> Path:
        return self.out / "auth.json"

    def cert_args(self, option: str) -> list[str]:
        return [option, str(self.cert_dir)] if self.cert_dir else []

    def ca_bundle(self) -> Path:
        """The host's CAs plus the registry's own, for tools that only read SSL_CERT_FILE (Helm, oras)."""
        bundle = self.out / "ca-bundle.pem"
        text = HOST_CA_BUNDLE.read_text() if HOST_CA_BUNDLE.exists() else ""
        if self.cert_dir:
            text += (self.cert_dir / "ca.crt").read_text()
        bundle.write_text(text)
        return bundle


# --- 1 static --------------------------------------------------------------------------------------------------


def step_static(ctx: Context) -> str:
    shell_scripts = sorted(str(p) for p in (ROOT / "deploy").rglob("*.sh"))
    run([tool("hadolint"), str(ROOT / "deploy" / "Dockerfile")])
    run([tool("shellcheck"), *shell_scripts])
    # Relative paths from the repository root: the config's ignore patterns are written that way.
    workflows = [str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml")]
    run([tool("yamllint"), "-c", "deploy/release/yamllint.yaml", "--strict", "deploy", *workflows], cwd=ROOT)
    trivy = [tool("trivy"), "config", "--skip-check-update", "--severity", "HIGH,CRITICAL", "--exit-code", "1"]
    trivy += ["--ignorefile", str(ROOT / "deploy" / "release" / "trivyignore.yaml")]  # each with its reason
    run([*trivy, "--quiet", str(ROOT / "deploy")])
    ha_values = ROOT / "deploy" / "chart" / "todostack" / "ci" / "postgresql-ha-values.yaml"
    run([*trivy, "--quiet", "--helm-values", str(ha_values), str(ROOT / "deploy" / "chart")])
    return f"hadolint, shellcheck ({len(shell_scripts)} scripts), yamllint, trivy config: no HIGH/CRITICAL"


# --- 2 chart ---------------------------------------------------------------------------------------------------


def step_chart(ctx: Context) -> str:
    report = chart_check.check()
    (ctx.out / "chart-check.json").write_text(json.dumps(report, indent=2))
    if not report["ok"]:
        raise StepFailed("; ".join(report["problems"]))
    import helm_python

    archive = helm_python.package(str(chart_check.CHART), destination=str(ctx.out), app_version=ctx.version)
    ctx.facts["chart_archive"] = archive
    unvalidated = sorted({u for s in report["scenarios"].values() for u in s["unvalidated"]})
    return (
        f"{len(report['scenarios'])} scenarios valid for Kubernetes {' and '.join(report['kubernetes'])}, "
        f"{len(report['refusals'])} refusals held, packaged {Path(archive).name}"
        + (f"; no schema here for: {', '.join(unvalidated)}" if unvalidated else "")
    )


# --- 3 build ---------------------------------------------------------------------------------------------------


def base_images() -> dict[str, str]:
    given = {k: os.environ[k] for k in ("BASE_IMAGE", "UV_IMAGE") if os.environ.get(k)}
    if len(given) == 2:
        return given
    done = run(["bash", str(ROOT / "deploy" / "release" / "base-images.sh")], timeout=1200)
    made = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)
    return {**made, **given}


def build_image(version: str, revision: str) -> tuple[str, float]:
    """buildah with its layer cache; returns the local image reference and the build's wall time."""
    bases = base_images()
    tag = f"{LOCAL_IMAGE}:{version}"
    command = [
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--layers",
        "--file",
        str(ROOT / "deploy" / "Dockerfile"),
        "--build-arg",
        f"BASE_IMAGE={bases['BASE_IMAGE']}",
        "--build-arg",
        f"UV_IMAGE={bases['UV_IMAGE']}",
        "--label",
        f"org.opencontainers.image.version={version}",
        "--label",
        f"org.opencontainers.image.revision={revision}",
        "--tag",
        tag,
    ]
    if HOST_CA_BUNDLE.exists():
        # A TLS-intercepting proxy's CA reaches uv as a build secret, never a layer.
        command += ["--secret", f"id=ssl_ca,src={HOST_CA_BUNDLE}"]
    previous = image_id(tag)
    started = time.monotonic()
    run([*command, str(ROOT)], timeout=1800)
    elapsed = time.monotonic() - started
    if previous and previous != image_id(tag):
        # The image this tag named before (an earlier run of the same version) is nobody's now: drop it, so
        # repeated runs do not fill the disk. Layers still used by the new image or the cache stay.
        run(["buildah", "rmi", previous], check=False)
    return tag, elapsed


def image_id(reference: str) -> str:
    done = run(["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", reference], check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def image_size(reference: str) -> int:
    done = run(["podman", "image", "inspect", "--format", "{{.Size}}", reference])
    return int(done.stdout.strip())


def step_build(ctx: Context) -> str:
    tag, seconds = build_image(ctx.version, ctx.revision)
    size = image_size(tag)
    oci_dir = ctx.out / "image-oci"
    shutil.rmtree(oci_dir, ignore_errors=True)
    run(["buildah", "push", "--quiet", tag, f"oci:{oci_dir}:{ctx.version}"])
    ctx.facts.update(local_image=tag, build_seconds=round(seconds, 1), image_bytes=size, oci_dir=str(oci_dir))
    trivy_image = [tool("trivy"), "image", "--skip-db-update", "--skip-check-update", "--quiet", "--input"]
    sbom = ctx.out / "sbom.cdx.json"
    # An SBOM needs no vulnerability database: CycloneDX output lists the OS and Python packages only.
    run([*trivy_image, str(oci_dir), "--format", "cyclonedx", "--output", str(sbom)])
    components = len(json.loads(sbom.read_text()).get("components", []))
    if components == 0:
        raise StepFailed("the SBOM lists no components")
    ctx.facts.update(sbom=str(sbom), sbom_components=components)
    secrets_report = ctx.out / "secret-scan.json"
    run(
        [
            *trivy_image,
            str(oci_dir),
            "--scanners",
            "secret",
            "--format",
            "json",
            "--output",
            str(secrets_report),
            "--exit-code",
            "1",
        ]
    )
    return (
        f"{tag}: {size / 1e6:.0f} MB, built in {seconds:.0f} s; SBOM (CycloneDX) with {components} components; "
        "secret scan clean"
    )


# --- 4 vulns ---------------------------------------------------------------------------------------------------


def trivy_cache() -> Path:
    return Path(os.environ.get("TRIVY_CACHE_DIR", Path.home() / ".cache" / "trivy"))


def step_vulns(ctx: Context) -> str:
    download = os.environ.get("TRIVY_DB", "") == "download"
    have_db = (trivy_cache() / "db" / "trivy.db").exists()
    if not (download or have_db):
        raise StepSkipped(
            "NO VULNERABILITY DATABASE: Trivy's database cannot be reached from this machine, so the image was "
            "NOT scanned for vulnerabilities. Harbor scans on push; a CI that reaches the database sets "
            "TRIVY_DB=download."
        )
    oci_dir = ctx.facts.get("oci_dir")
    if not oci_dir:
        raise StepFailed("no image to scan (the build step did not run)")
    command = [
        tool("trivy"),
        "image",
        "--skip-check-update",
        "--input",
        oci_dir,
        "--scanners",
        "vuln",
        "--severity",
        "HIGH,CRITICAL",
        "--ignore-unfixed",
        "--exit-code",
        "1",
    ]
    if not download:
        command.append("--skip-db-update")
    run(command, timeout=1800)
    return "no fixable HIGH/CRITICAL vulnerability"


# --- 5 push ----------------------------------------------------------------------------------------------------


def registry_login(ctx: Context) -> None:
    if not ctx.user:
        raise StepFailed("REGISTRY_USER and REGISTRY_PASSWORD are required to push")
    done = subprocess.run(
        [
            "skopeo",
            "login",
            "--authfile",
            str(ctx.authfile),
            *ctx.cert_args("--cert-dir"),
            "--username",
            ctx.user,
            "--password-stdin",
            ctx.registry,
        ],
        input=ctx.password,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise StepFailed(f"login to {ctx.registry} refused: {done.stderr.strip()[-500:]}")


def helper_env(ctx: Context) -> dict[str, str]:
    bundle = str(ctx.ca_bundle())
    return dict(
        os.environ,
        SSL_CERT_FILE=bundle,
        REQUESTS_CA_BUNDLE=bundle,
        REGISTRY_USER=ctx.user,
        REGISTRY_PASSWORD=ctx.password,
        # Helm keeps its logins in this run's evidence folder, not in the user's ~/.config/helm.
        HELM_REGISTRY_CONFIG=str(ctx.out / "helm-registry.json"),
    )


def push_sbom(ctx: Context, digest: str) -> str:
    """The SBOM as an OCI artifact tagged after the image digest (cosign's convention, as no referrers API)."""
    import oras.client

    target = f"{ctx.remote_image}:{digest.replace(':', '-')}.sbom"
    client = oras.client.OrasClient(hostname=ctx.registry, tls_verify=str(ctx.ca_bundle()), auth_backend="basic")
    # Credentials for this client only: oras's login() would also write them into ~/.docker/config.json.
    client.auth.set_basic_auth(ctx.user, ctx.password)
    sbom = Path(ctx.facts["sbom"])
    previous = Path.cwd()
    os.chdir(sbom.parent)  # oras names each layer after its path as given
    try:
        answer = client.push(
            target=target,
            files=[f"{sbom.name}:application/vnd.cyclonedx+json"],
            manifest_annotations={"org.opencontainers.image.description": f"SBOM of {digest}"},
        )
    finally:
        os.chdir(previous)
    if answer.status_code not in (200, 201):
        raise StepFailed(f"SBOM push answered {answer.status_code}")
    return target


def step_push(ctx: Context) -> str:
    tag = ctx.facts.get("local_image")
    archive = ctx.facts.get("chart_archive")
    if not tag or not archive:
        raise StepFailed("nothing to push (the build and chart steps must run first)")
    registry_login(ctx)
    digest_file = ctx.out / "image.digest"
    run(
        [
            "buildah",
            "push",
            "--quiet",
            "--authfile",
            str(ctx.authfile),
            *ctx.cert_args("--cert-dir"),
            "--digestfile",
            str(digest_file),
            tag,
            f"docker://{ctx.remote_image}:{ctx.version}",
        ],
        timeout=900,
    )
    digest = digest_file.read_text().strip()
    by_digest = f"{ctx.remote_image}@{digest}"
    # Pulled back by digest: the registry serves exactly what was pushed.
    inspected = json.loads(
        run(
            [
                "skopeo",
                "inspect",
                "--authfile",
                str(ctx.authfile),
                *ctx.cert_args("--cert-dir"),
                f"docker://{by_digest}",
            ]
        ).stdout
    )
    if inspected.get("Digest") != digest:
        raise StepFailed(f"the registry answers {inspected.get('Digest')} for {by_digest}")
    ctx.facts.update(image_digest=digest, image_ref=by_digest)

    env = helper_env(ctx)
    helper = str(ROOT / "deploy" / "release" / "chart_oci.py")
    meta = chart_check.yaml.safe_load((chart_check.CHART / "Chart.yaml").read_text())
    remote = f"oci://{ctx.registry}/{ctx.chart_repository}"
    pushed = json.loads(
        run(
            [
                sys.executable,
                helper,
                "push",
                archive,
                remote,
                "--name",
                meta["name"],
                "--version",
                str(meta["version"]),
            ],
            env=env,
        ).stdout
    )
    chart_ref = f"{remote}/{meta['name']}@{pushed['digest']}"
    pulled_dir = ctx.out / "chart-pulled"
    shutil.rmtree(pulled_dir, ignore_errors=True)
    pulled = json.loads(run([sys.executable, helper, "pull", chart_ref, str(pulled_dir)], env=env).stdout)
    # "Installed" from oci:// by rendering what came back, pointed at the image by digest, and validated.
    values = {"image": {"repository": ctx.remote_image, "digest": digest}}
    objects = chart_check.render(pulled["archive"], values)
    validation = chart_check.validate(objects, (chart_check.oldest_kubernetes(),), chart_check.crd_schemas())
    if validation.problems:
        raise StepFailed("the chart pulled from the registry does not validate: " + "; ".join(validation.problems))
    images = {
        c["image"] for _, o in objects if o["kind"] == "Deployment" for c in o["spec"]["template"]["spec"]["containers"]
    }
    if images != {by_digest}:
        raise StepFailed(f"the pulled chart runs {images}, not {by_digest}")
    ctx.facts.update(chart_ref=chart_ref, chart_digest=pushed["digest"])
    sbom_ref = push_sbom(ctx, digest)
    ctx.facts["sbom_ref"] = sbom_ref
    return f"image {by_digest}; chart {chart_ref} (pulled back, rendered, valid); SBOM {sbom_ref}"


# --- 6 sign ----------------------------------------------------------------------------------------------------


def signing_key(ctx: Context, gnupghome: Path) -> tuple[str, dict[str, str]]:
    env = dict(os.environ)
    given = os.environ.get("SIGN_KEY", "")
    if given:
        return given, env
    gnupghome.mkdir(mode=0o700, parents=True, exist_ok=True)
    env["GNUPGHOME"] = str(gnupghome)
    run(
        [
            "gpg",
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-generate-key",
            "todostack release (ephemeral, this run only) <release@todostack.invalid>",
            "ed25519",
            "sign",
            "1d",
        ],
        env=env,
    )
    listed = run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env).stdout
    fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
    return fingerprint, env


def verify(ctx: Context, reference: str, policy: Path, registries_d: Path, env: dict[str, str]) -> bool:
    """Whether containers/image's policy admits the image (the check podman and CRI-O make before running it)."""
    target = Path(tempfile.mkdtemp(prefix="verify-", dir=ctx.out))
    try:
        done = run(
            [
                "skopeo",
                "--policy",
                str(policy),
                "--registries.d",
                str(registries_d),
                "copy",
                "--quiet",
                "--src-authfile",
                str(ctx.authfile),
                *ctx.cert_args("--src-cert-dir"),
                f"docker://{reference}",
                f"dir:{target}",
            ],
            env=env,
            check=False,
            timeout=600,
        )
    finally:
        shutil.rmtree(target, ignore_errors=True)
    ctx.facts.setdefault("verifications", []).append(
        {
            "ref": reference,
            "registries_d": str(registries_d),
            "admitted": done.returncode == 0,
            "answer": done.stderr.strip()[-300:],
        }
    )
    return done.returncode == 0


def write_policy(ctx: Context, public_key: Path) -> Path:
    """Reject everything, except this repository's images signed by the release key."""
    policy = {
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {ctx.remote_image: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(public_key)}]}
        },
    }
    path = ctx.out / "policy.json"
    path.write_text(json.dumps(policy, indent=2))
    return path


def write_registries_d(directory: Path, registry: str, sigstore: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "todostack.yaml").write_text(f"docker:\n  {registry}:\n    lookaside: file://{sigstore}\n")
    return directory


def step_sign(ctx: Context) -> str:
    digest = ctx.facts.get("image_digest")
    if not digest:
        raise StepFailed("nothing to sign (the push step must run first)")
    fingerprint, env = signing_key(ctx, ctx.out / "gnupg")
    manifest = ctx.out / "manifest.json"
    manifest.write_text(
        run(
            [
                "skopeo",
                "inspect",
                "--raw",
                "--authfile",
                str(ctx.authfile),
                *ctx.cert_args("--cert-dir"),
                f"docker://{ctx.facts['image_ref']}",
            ]
        ).stdout
    )
    sigstore = Path(os.environ.get("SIGSTORE") or ctx.out / "sigstore")
    # The lookaside layout containers/image reads: <store>/<repository>@<algo>=<hex>/signature-<n>.
    signature = sigstore / f"{ctx.image}@{digest.replace(':', '=')}" / "signature-1"
    signature.parent.mkdir(parents=True, exist_ok=True)
    run(
        [
            "skopeo",
            "standalone-sign",
            str(manifest),
            f"{ctx.remote_image}:{ctx.version}",
            fingerprint,
            "--output",
            str(signature),
        ],
        env=env,
    )
    public_key = ctx.out / "release-key.gpg"
    public_key.write_bytes(
        subprocess.run(
            ["gpg", "--batch", "--export", fingerprint], env=env, capture_output=True, check=True, timeout=60
        ).stdout
    )
    policy = write_policy(ctx, public_key)
    signed_view = write_registries_d(ctx.out / "registries.d", ctx.registry, sigstore)
    ctx.facts.update(
        signature=str(signature),
        policy=str(policy),
        registries_d=str(signed_view),
        signing_key=fingerprint,
        signing_key_ephemeral=not os.environ.get("SIGN_KEY"),
    )
    if not verify(ctx, ctx.facts["image_ref"], policy, signed_view, env):
        raise StepFailed("the policy refused the signed image: " + ctx.facts["verifications"][-1]["answer"])
    empty_store = ctx.out / "sigstore-empty"
    empty_store.mkdir(exist_ok=True)
    unsigned_view = write_registries_d(ctx.out / "registries-unsigned.d", ctx.registry, empty_store)
    if verify(ctx, ctx.facts["image_ref"], policy, unsigned_view, env):
        raise StepFailed("the policy admitted the image without its signature")
    if "signature" not in ctx.facts["verifications"][-1]["answer"].lower():
        raise StepFailed(
            "the unsigned image was refused, but not for its missing signature: "
            + ctx.facts["verifications"][-1]["answer"]
        )
    return (
        f"signed {digest[:19]}… with GPG key {fingerprint[-16:]}"
        + (" (ephemeral)" if ctx.facts["signing_key_ephemeral"] else "")
        + "; policy admits it signed and refuses it unsigned"
    )


# --- 7 smoke ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 3) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (our own http://127.0.0.1)
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as answered:
        return answered.code, answered.read().decode()


def smoke(reference: str, *, pull_args: list[str], grace: int = 30, timeout: float = 120) -> dict[str, Any]:
    """Run `reference` hardened, check its endpoints and user, stop it with SIGTERM; the facts seen."""
    if pull_args:
        run(["podman", "pull", "--quiet", *pull_args, reference], timeout=900)
    name = f"todostack-smoke-{os.getpid()}-{int(time.time())}"
    port, metrics_port = free_port(), free_port()
    secret = os.urandom(32).hex()
    facts: dict[str, Any] = {"ref": reference}
    run(
        [
            "podman",
            "run",
            "--detach",
            "--name",
            name,
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--publish",
            f"127.0.0.1:{port}:8000",
            "--publish",
            f"127.0.0.1:{metrics_port}:9464",
            "--env",
            f"TODOSTACK_SECRET_KEY={secret}",
            "--env",
            "TODOSTACK_METRICS_PORT=9464",
            "--stop-timeout",
            str(grace),
            reference,
        ]
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                if http_get(f"{base}/readyz")[0] == 200:
                    break
            state = run(["podman", "inspect", "--format", "{{.State.Status}}", name]).stdout.strip()
            if state != "running" or time.monotonic() > deadline:
                logs = run(["podman", "logs", name], check=False)
                raise StepFailed(f"the container never became ready ({state}): {(logs.stdout + logs.stderr)[-1500:]}")
            time.sleep(0.5)
        # /metrics is served on its own port only; the public port answers 404 there.
        facts["public /metrics"], _ = http_get(base + "/metrics")
        if facts["public /metrics"] != 404:
            raise StepFailed(f"/metrics on the public port answered {facts['public /metrics']}, not 404")
        for path in ("/healthz", "/readyz", "/metrics"):
            where = f"http://127.0.0.1:{metrics_port}" if path == "/metrics" else base
            status, body = http_get(where + path)
            facts[path] = status
            if status != 200:
                raise StepFailed(f"{path} answered {status}")
            if path == "/metrics" and "todostack_build_info" not in body:
                raise StepFailed("/metrics does not expose todostack_build_info")
        uid = run(["podman", "exec", name, "id", "-u"]).stdout.strip()
        facts["uid"] = uid
        if uid == "0":
            raise StepFailed("the container runs as root")
        configured = run(["podman", "image", "inspect", "--format", "{{.Config.User}}", reference]).stdout.strip()
        facts["image_user"] = configured
        if configured in ("", "0", "root") or configured.startswith(("0:", "root:")):
            raise StepFailed(f"the image's user is {configured!r}")
        started = time.monotonic()
        run(["podman", "stop", "--time", str(grace), name], timeout=grace + 60)
        facts["stop_seconds"] = round(time.monotonic() - started, 2)
        code = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", name]).stdout.strip()
        facts["exit_code"] = int(code)
        if code != "0" or facts["stop_seconds"] >= grace:
            raise StepFailed(f"SIGTERM: exit code {code} after {facts['stop_seconds']} s (grace {grace} s)")
    finally:
        run(["podman", "rm", "--force", "--ignore", name], check=False)
    return facts


def step_smoke(ctx: Context) -> str:
    reference = ctx.facts.get("image_ref")
    if not reference:
        raise StepFailed("nothing to smoke-test (the push step must run first)")
    facts = smoke(reference, pull_args=["--authfile", str(ctx.authfile), *ctx.cert_args("--cert-dir")])
    ctx.facts["smoke"] = facts
    return (
        f"pulled by digest and ran read-only, no capabilities, no new privileges: /healthz /readyz /metrics 200, "
        f"uid {facts['uid']}, SIGTERM -> exit 0 in {facts['stop_seconds']} s"
    )


# --- the run ---------------------------------------------------------------------------------------------------


def default_version() -> tuple[str, str]:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    revision = done.stdout.strip() or "unknown"
    return os.environ.get("VERSION") or f"{version}-{revision}", revision


@contextlib.contextmanager
def registry_access(out: Path) -> Iterator[tuple[str, str, str, Path | None, bool]]:
    registry = os.environ.get("REGISTRY", "")
    if registry:
        ca = os.environ.get("REGISTRY_CA", "")
        cert_dir = None
        if ca:
            cert_dir = out / "registry-certs"
            cert_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ca, cert_dir / "ca.crt")
        yield registry, os.environ.get("REGISTRY_USER", ""), os.environ.get("REGISTRY_PASSWORD", ""), cert_dir, False
        return
    say("REGISTRY is empty: starting a local stand-in (docker-registry, TLS, htpasswd) for this run")
    with LocalRegistry() as access:
        yield access.host, access.user, access.password, access.cert_dir, True


def summary_lines(verdicts: list[Verdict]) -> list[str]:
    lines = ["", "release summary", "---------------"]
    for v in verdicts:
        lines.append(f"{v.step:<7} {v.verdict.upper():<8} {v.seconds:6.1f} s  {v.detail}")
    return lines


def main() -> int:
    os.environ.setdefault("TRIVY_NO_PROGRESS", "true")
    out = Path(os.environ.get("RELEASE_OUT") or ROOT / "var" / "release").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    out.chmod(0o700)
    wanted = [s.strip() for s in os.environ.get("RELEASE_STEPS", ",".join(STEPS)).split(",") if s.strip()]
    unknown = set(wanted) - set(STEPS)
    if unknown:
        print(f"release: unknown steps {sorted(unknown)}; the steps are {', '.join(STEPS)}", file=sys.stderr)
        return 2
    version, revision = default_version()
    actions: dict[str, Callable[[Context], str]] = {
        "static": step_static,
        "chart": step_chart,
        "build": step_build,
        "vulns": step_vulns,
        "push": step_push,
        "sign": step_sign,
        "smoke": step_smoke,
    }
    verdicts: list[Verdict] = []
    started = time.monotonic()
    needs_registry = bool({"push", "sign", "smoke"} & set(wanted))
    with (
        registry_access(out)
        if needs_registry
        else contextlib.nullcontext((os.environ.get("REGISTRY", ""), "", "", None, False)) as access
    ):
        registry, user, password, cert_dir, local = access
        ctx = Context(
            out=out,
            registry=registry,
            user=user,
            password=password,
            cert_dir=cert_dir,
            image=os.environ.get("IMAGE", "todostack/todostack"),
            chart_repository=os.environ.get("CHART_REPOSITORY", "todostack/charts"),
            version=version,
            revision=revision,
        )
        ctx.facts.update(version=version, registry=registry, local_registry=local)
        failed = False
        for step in STEPS:
            if step not in wanted:
                continue
            say(f"step {STEPS.index(step) + 1}/{len(STEPS)}: {step}")
            began = time.monotonic()
            if failed and step != "vulns":
                verdict = Verdict(step, "skipped", 0.0, "not run: an earlier step failed")
            else:
                try:
                    detail = actions[step](ctx)
                    verdict = Verdict(step, "passed", time.monotonic() - began, detail)
                except StepSkipped as skipped:
                    verdict = Verdict(step, "skipped", time.monotonic() - began, str(skipped))
                    print("!" * 100 + f"\nrelease: SKIPPED {step}: {skipped}\n" + "!" * 100, flush=True)
                except (StepFailed, subprocess.TimeoutExpired, OSError) as error:
                    verdict = Verdict(step, "failed", time.monotonic() - began, str(error))
                    failed = True
                except Exception as error:  # noqa: BLE001 (any other error fails the step, and the summary is kept)
                    verdict = Verdict(step, "failed", time.monotonic() - began, f"{type(error).__name__}: {error}")
                    failed = True
            say(f"{step}: {verdict.verdict}: {verdict.detail}")
            verdicts.append(verdict)
    total = time.monotonic() - started
    result = {
        "ok": not failed,
        "seconds": round(total, 1),
        "steps": [
            {"step": v.step, "verdict": v.verdict, "seconds": round(v.seconds, 1), "detail": v.detail} for v in verdicts
        ],
        "facts": {k: v for k, v in ctx.facts.items() if k != "password"},
    }
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    print("\n".join(summary_lines(verdicts)))
    print(f"total   {'FAILED' if failed else 'PASSED':<8} {total:6.1f} s  (evidence in {out})")
    skipped = [v.step for v in verdicts if v.verdict == "skipped"]
    if skipped:
        print(f"NOTE: skipped steps are NOT passed: {', '.join(skipped)}")
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
