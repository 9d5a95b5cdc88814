"""The Helm chart: strict lint, every ci/ scenario rendered and validated, the refusals, the hardening."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy_tools import CHART, SHARED, chart_check, chart_check_json

pytestmark = [pytest.mark.unit, pytest.mark.deploy]

Objects = list[dict[str, Any]]
SCENARIOS = ("defaults", "sqlite", "postgresql-ha", "metrics", "existing-secret", "traefik")


@pytest.fixture(scope="module")
def rendered() -> dict[str, Objects]:
    out = chart_check_json("render-scenarios")
    return {name: [item["object"] for item in items] for name, items in out.items()}


def _kinds(objects: Objects) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    return by_kind


def _pod_specs(objects: Objects) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            specs.append((f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "Pod":
            specs.append((f"Pod/{obj['metadata']['name']}", obj["spec"]))
    return specs


def test_the_whole_chart_check_passes() -> None:
    """Lint (strict), every scenario as install and upgrade, kubernetes-validate --strict and the CRDs, refusals."""
    assert (SHARED / "schemas" / "crds" / "monitoring.coreos.com_servicemonitors.yaml").exists()
    report = chart_check_json("check", "--json")
    assert report["problems"] == []
    assert report["ok"] is True
    assert report["kubernetes"][0] == "1.29.0"
    assert set(report["scenarios"]) == set(SCENARIOS)
    for name, scenario in report["scenarios"].items():
        assert scenario["validated"] + len(scenario["unvalidated"]) == scenario["objects"], name
    # The one kind with no schema on this machine is named as such, never counted as validated.
    assert report["scenarios"]["postgresql-ha"]["unvalidated"] == [
        "todostack/templates/httproute.yaml HTTPRoute/todostack"
    ]
    assert "ServiceMonitor" in report["scenarios"]["metrics"]["kinds"]


def test_every_ci_scenario_is_covered(rendered: dict[str, Objects]) -> None:
    on_disk = {p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")}
    assert on_disk == set(SCENARIOS) - {"defaults"}
    assert set(rendered) == set(SCENARIOS)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param({"replicaCont": 2}, "additional properties 'replicaCont' not allowed", id="typo-refused"),
        pytest.param({"service": {"typ": "ClusterIP"}}, "additional properties 'typ' not allowed", id="nested-typo"),
        pytest.param({"database": {"type": "mysql"}}, "value must be one of", id="bad-enum"),
        pytest.param({"replicaCount": 2}, "database.type=sqlite allows replicaCount 1", id="sqlite-replicas"),
        pytest.param({"autoscaling": {"enabled": True}}, "database.type=sqlite cannot autoscale", id="sqlite-hpa"),
        pytest.param(
            {"database": {"type": "postgresql", "postgresql": {"url": "mysql://x"}}},
            "/database/postgresql/url",
            id="not-a-postgresql-url",
        ),
        pytest.param(
            {"secret": {"existingSecret": "mine", "secretKey": "k" * 40}}, "with secret.existingSecret", id="two-keys"
        ),
        pytest.param(
            {"traefik": {"enabled": True, "retry": {"status": ["503"]}}}, "/traefik/retry/status/0", id="retry-503"
        ),
        pytest.param({"app": {"trustedProxies": ["everyone"]}}, "/app/trustedProxies/0", id="trusted-not-cidr"),
        pytest.param(
            {"traefik": {"enabled": True, "serversTransport": "Not_A_Name"}},
            "/traefik/serversTransport",
            id="servers-transport-not-a-name",
        ),
        pytest.param(
            {"app": {"headerReadTimeoutSeconds": 40}}, "the longer of app.shutdownGraceSeconds", id="stop-outlasts-pod"
        ),
    ],
)
def test_bad_values_are_refused(values: dict[str, Any], reason: str) -> None:
    done = chart_check("render", "--set-json", json.dumps(values))
    assert done.returncode == 2, done.stdout[:500]
    assert reason in done.stderr


def test_sqlite_is_one_pod_on_a_kept_claim(rendered: dict[str, Objects]) -> None:
    kinds = _kinds(rendered["sqlite"])
    deployment = kinds["Deployment"][0]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = kinds["PersistentVolumeClaim"][0]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "HorizontalPodAutoscaler" not in kinds
    assert "Job" not in kinds  # serve migrates SQLite itself
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/todostack/todostack@sha256:" + "0123456789abcdef" * 4


def test_postgresql_ha_migrates_before_the_rollout_and_autoscales(rendered: dict[str, Objects]) -> None:
    kinds = _kinds(rendered["postgresql-ha"])
    deployment = kinds["Deployment"][0]
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    hpa = kinds["HorizontalPodAutoscaler"][0]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    job = kinds["Job"][0]
    hooks = job["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    secret = kinds["Secret"][0]
    # The Secret the Job reads exists before it: a hook with a lower weight.
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(hooks["helm.sh/hook-weight"])
    assert set(secret["data"]) == {"secret-key", "database-url"}
    assert {"PodDisruptionBudget", "NetworkPolicy", "Ingress", "HTTPRoute", "Service"} <= set(kinds)
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert all(c["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "todostack" for c in spread)


def test_existing_secret_is_used_and_none_is_made(rendered: dict[str, Objects]) -> None:
    kinds = _kinds(rendered["existing-secret"])
    assert "Secret" not in kinds
    assert "ServiceAccount" not in kinds
    env = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert refs["TODOSTACK_SECRET_KEY"] == {"name": "todostack-credentials", "key": "secret-key"}
    assert refs["TODOSTACK_DATABASE_URL"] == {"name": "todostack-credentials", "key": "database-url"}


def test_service_monitor_only_when_enabled(rendered: dict[str, Objects]) -> None:
    assert "ServiceMonitor" not in _kinds(rendered["defaults"])
    monitor = _kinds(rendered["metrics"])["ServiceMonitor"][0]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "5s"}
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_metrics_are_served_on_their_own_port_only_to_prometheus(rendered: dict[str, Objects], scenario: str) -> None:
    kinds = _kinds(rendered[scenario])
    container = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TODOSTACK_METRICS_PORT"] == str(ports["metrics"])
    assert ports["metrics"] != ports["http"]
    assert env.get("TODOSTACK_METRICS_PUBLIC", "off") == "off"  # never on the port the proxy routes to
    service_ports = {p["name"]: p["targetPort"] for p in kinds["Service"][0]["spec"]["ports"]}
    assert service_ports == {"http": "http", "metrics": "metrics"}
    for policy in kinds.get("NetworkPolicy", []):
        for rule in policy["spec"]["ingress"]:
            names = {
                p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") for p in rule["from"]
            }
            expected = "metrics" if "prometheus" in names else "http"
            assert [p["port"] for p in rule["ports"]] == [expected]


def test_network_policy_admits_only_the_proxy_prometheus_and_the_test_pod(rendered: dict[str, Objects]) -> None:
    policy = _kinds(rendered["defaults"])["NetworkPolicy"][0]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    names = [p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") for p in peers]
    assert sorted(n for n in names if n) == ["prometheus", "todostack", "traefik"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_is_hardened(rendered: dict[str, Objects], scenario: str) -> None:
    specs = _pod_specs(rendered[scenario])
    assert specs
    for where, spec in specs:
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert "memory" in container["resources"]["limits"], where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_service_pod_probes_drains_and_writes_only_to_volumes(rendered: dict[str, Objects], scenario: str) -> None:
    deployment = _kinds(rendered[scenario])["Deployment"][0]
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TODOSTACK_ENV"] == "production"
    # A stopping worker waits for its requests (grace) and for heads still arriving (header read timeout).
    held = max(float(env["TODOSTACK_SHUTDOWN_GRACE_SECONDS"]), float(env["TODOSTACK_HEADER_READ_TIMEOUT_SECONDS"]))
    drain = float(env["TODOSTACK_SHUTDOWN_DELAY_SECONDS"]) + held
    assert spec["terminationGracePeriodSeconds"] > drain
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts) == {"/tmp", "/data"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_the_validators_refuse_what_a_cluster_would(rendered: dict[str, Objects]) -> None:
    """The checks can fail: a misspelt field in a built-in kind and in a custom resource are both caught."""
    deployment = json.loads(json.dumps(_kinds(rendered["defaults"])["Deployment"][0]))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    monitor = json.loads(json.dumps(_kinds(rendered["metrics"])["ServiceMonitor"][0]))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    unknown = {"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}}
    result = chart_check_json("validate", stdin=json.dumps([deployment, monitor, unknown]))
    assert result["checked"] == 2
    assert any("securityContxt" in p for p in result["problems"]), result["problems"]
    assert any("intervall" in p for p in result["problems"]), result["problems"]
    assert result["unvalidated"] == ["2 Gizmo/g"]


def test_the_chart_readme_values_table_matches_values_yaml() -> None:
    done = chart_check("readme", "--check")
    assert done.returncode == 0, done.stderr


def test_traefik_objects_only_when_enabled(rendered: dict[str, Objects]) -> None:
    assert not {"IngressRoute", "Middleware"} & set(_kinds(rendered["defaults"]))
    kinds = _kinds(rendered["traefik"])
    middlewares = {m["metadata"]["name"]: m["spec"] for m in kinds["Middleware"]}
    assert set(middlewares) == {
        f"todostack-{n}" for n in ("headers", "ratelimit", "auth-ratelimit", "retry", "circuitbreaker")
    }
    # Retries on network errors and Traefik's own 502 (a connection broken mid-request), for idempotent methods
    # only: the app's 503 + Retry-After is never retried.
    assert middlewares["todostack-retry"]["retry"]["retryNonIdempotentMethod"] is False
    assert middlewares["todostack-retry"]["retry"]["status"] == ["502"]
    # Traefik buffers each retried request's body up to this: its 2 MiB default cost 0.5 ms CPU per request.
    assert middlewares["todostack-retry"]["retry"]["maxRequestBodyBytes"] == 4096
    assert (
        middlewares["todostack-auth-ratelimit"]["rateLimit"]["average"]
        < middlewares["todostack-ratelimit"]["rateLimit"]["average"]
    )
    assert middlewares["todostack-ratelimit"]["rateLimit"]["sourceCriterion"] == {"ipStrategy": {"depth": 1}}
    assert middlewares["todostack-ratelimit"]["rateLimit"]["redis"] == {"endpoints": ["redis-master.traefik.svc:6379"]}
    [route] = kinds["IngressRoute"]
    auth, general = route["spec"]["routes"]
    assert "/api/v1/auth/token" in auth["match"]
    assert auth["priority"] > general["priority"]
    assert "todostack-auth-ratelimit" in [m["name"] for m in auth["middlewares"]]
    assert "todostack-auth-ratelimit" not in [m["name"] for m in general["middlewares"]]
    for r in (auth, general):
        assert r["middlewares"][-1]["name"] == "todostack-circuitbreaker"
        assert r["services"] == [
            {"kind": "Service", "name": "todostack", "port": "http", "serversTransport": "todostack-backend"}
        ]
    assert route["spec"]["tls"] == {"secretName": "todo-example-com-tls"}
    # The service believes X-Forwarded-* from Traefik's pods only.
    [deployment] = kinds["Deployment"]
    [container] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "todostack"]
    assert {"name": "TODOSTACK_TRUSTED_PROXIES", "value": "10.42.0.0/16"} in container["env"]
