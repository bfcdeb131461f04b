"""The deployment files: deploy/Dockerfile, deploy/docker-compose.yml and the Helm chart.

No Docker engine and no Kubernetes cluster here, so:

- the chart is rendered by Helm itself: the `helm-python-sdk` package binds Helm v4's Go SDK
  (no `helm` binary), as `helm template` would render it;
- every rendered object is validated against the Kubernetes OpenAPI JSON schemas bundled by
  `kubernetes-validate`, in strict mode (an unknown or misplaced field is an error), for the
  oldest and the newest Kubernetes the chart claims;
- the compose file is read with PyYAML, and given to `docker compose config` when a Docker
  client with the compose plugin is installed (it needs no engine).
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

from cobranca.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = ROOT / "helm" / "cobranca"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"

WORKERS = ("clock", "portfolio", "negotiation", "ruler", "messaging")
RELEASE = "prod"
FULLNAME = f"{RELEASE}-cobranca"
# The oldest Kubernetes the chart claims (Chart.yaml kubeVersion) and a recent one.
KUBE_VERSIONS = ("1.25", "1.33")

VALUES: dict[str, Any] = {
    "kafka": {"bootstrapServers": "my-cluster-kafka-bootstrap.kafka:9092"},
    "postgresql": {"url": "postgresql://cobranca:secret@postgres.db:5432/cobranca"},
    "secrets": {"secretKey": "k" * 48},
    "telemetry": {"otlpEndpoint": "http://otel-collector.observability:4318"},
}


# ---------------------------------------------------------------------------------------------
# Rendering


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart's objects as `helm template` renders them (hooks included)."""
    helm = pytest.importorskip(
        "helm_python", reason="helm-python-sdk (Helm's SDK for Python) is not installed"
    )
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(
            VALUES if values is None else values, name=RELEASE, namespace="cobranca"
        )
    objects: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def deployment(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    return of_kind(objects, "Deployment")[f"{FULLNAME}-{service}"]


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod template: the Deployments' and the hook Job's."""
    return {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in ("Deployment", "Job")
    }


# ---------------------------------------------------------------------------------------------
# The chart


def test_the_chart_renders_one_deployment_per_service(objects: list[dict[str, Any]]) -> None:
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == {f"{FULLNAME}-{s}" for s in SERVICES}
    for service in SERVICES:
        dep = deployment(objects, service)
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == service
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        # The image's entrypoint is `cobranca`: the args choose the service.
        assert container["args"] == ["serve", service]
        assert container["image"] == "cobranca:0.1.0"


def test_replicas_come_from_the_values_and_the_gateway_autoscales(
    objects: list[dict[str, Any]],
) -> None:
    for service in WORKERS:
        assert deployment(objects, service)["spec"]["replicas"] == 1
    # The HorizontalPodAutoscaler owns the gateway's replicas.
    assert "replicas" not in deployment(objects, "gateway")["spec"]
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{FULLNAME}-gateway",
    }
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
    # Only one clock at a time.
    assert deployment(objects, "clock")["spec"]["strategy"] == {"type": "Recreate"}

    values = {
        **VALUES,
        "gateway": {"autoscaling": {"enabled": False}},
        "services": {"negotiation": {"replicas": 3}, "gateway": {"replicas": 4}},
    }
    scaled = render(values)
    assert deployment(scaled, "negotiation")["spec"]["replicas"] == 3
    assert deployment(scaled, "gateway")["spec"]["replicas"] == 4
    assert not of_kind(scaled, "HorizontalPodAutoscaler")


def data_volume(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    volumes = deployment(objects, service)["spec"]["template"]["spec"]["volumes"]
    (data,) = [v for v in volumes if v["name"] == "data"]
    return data


def test_the_files_only_the_ruler_and_messaging_write_are_kept_on_claims(
    objects: list[dict[str, Any]],
) -> None:
    """The bureau's remittance files and the outbox of tenants without a channel are their
    only copy: on a PersistentVolumeClaim kept on uninstall, not an emptyDir a restart empties."""
    claims = of_kind(objects, "PersistentVolumeClaim")
    assert set(claims) == {f"{FULLNAME}-ruler-data", f"{FULLNAME}-messaging-data"}
    for service in ("ruler", "messaging"):
        claim = claims[f"{FULLNAME}-{service}-data"]
        assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
        assert "storageClassName" not in claim["spec"]  # the cluster's default
        assert data_volume(objects, service)["persistentVolumeClaim"] == {
            "claimName": f"{FULLNAME}-{service}-data"
        }
        # One node at a time mounts it: the old pod goes before the new one comes.
        assert deployment(objects, service)["spec"]["strategy"] == {"type": "Recreate"}
    for service in ("clock", "portfolio", "negotiation", "gateway"):
        assert "emptyDir" in data_volume(objects, service)

    values = {
        **VALUES,
        "services": {
            "ruler": {"persistence": {"enabled": False}},
            "portfolio": {"persistence": {"enabled": True, "size": "2Gi", "storageClass": "ssd"}},
        },
    }
    chosen = render(values)
    claims = of_kind(chosen, "PersistentVolumeClaim")
    assert set(claims) == {f"{FULLNAME}-portfolio-data", f"{FULLNAME}-messaging-data"}
    portfolio = claims[f"{FULLNAME}-portfolio-data"]["spec"]
    assert (portfolio["storageClassName"], portfolio["accessModes"]) == ("ssd", ["ReadWriteOnce"])
    assert "emptyDir" in data_volume(chosen, "ruler")


def test_the_gateway_is_probed_on_its_health_endpoints(objects: list[dict[str, Any]]) -> None:
    (container,) = deployment(objects, "gateway")["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"

    (service,) = of_kind(objects, "Service").values()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "gateway"


def test_every_worker_has_a_readiness_probe_on_kafka(objects: list[dict[str, Any]]) -> None:
    for service in WORKERS:
        (container,) = deployment(objects, service)["spec"]["template"]["spec"]["containers"]
        probe = container["readinessProbe"]
        command = probe["exec"]["command"]
        assert command[:2] == ["python", "-c"]
        assert "COBRANCA_KAFKA_BOOTSTRAP" in command[2]
        compile(command[2], "<probe>", "exec")  # the one-liner is valid Python
        # No liveness probe by default (see values.yaml): a worker that fails exits.
        assert "livenessProbe" not in container


def test_the_worker_probe_reaches_the_first_bootstrap_server(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    (container,) = deployment(objects, "ruler")["spec"]["template"]["spec"]["containers"]
    code = container["readinessProbe"]["exec"]["command"][2]
    reached: list[tuple[str, int]] = []

    class Connection:
        def close(self) -> None:
            pass

    def connect(address: tuple[str, int], timeout: float) -> Connection:
        reached.append(address)
        return Connection()

    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setenv("COBRANCA_KAFKA_BOOTSTRAP", " kafka-0.kafka:9092, kafka-1.kafka:9092")
    exec(code, {})
    assert reached == [("kafka-0.kafka", 9092)]


def test_no_container_runs_as_root(objects: list[dict[str, Any]]) -> None:
    pods = pod_specs(objects)
    assert f"{FULLNAME}-migrations" in pods
    for name, pod in pods.items():
        pod_ctx = pod["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True, name
        assert pod_ctx["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        mounts_by_volume = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True, name
            assert ctx.get("runAsUser", pod_ctx["runAsUser"]) != 0, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            # The read-only root: /tmp and the data dir are volumes.
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert set(mounts) == {"/tmp", "/var/lib/cobranca"}, name
            assert "emptyDir" in mounts_by_volume[mounts["/tmp"]], name


def test_every_container_has_requests_and_limits(objects: list[dict[str, Any]]) -> None:
    for name, pod in pod_specs(objects).items():
        for container in pod["containers"]:
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) >= {"cpu", "memory"}, (name, kind)


def test_settings_come_from_a_configmap_and_secrets(objects: list[dict[str, Any]]) -> None:
    (config,) = of_kind(objects, "ConfigMap").values()
    data = config["data"]
    assert data["COBRANCA_KAFKA_BOOTSTRAP"] == "my-cluster-kafka-bootstrap.kafka:9092"
    assert data["COBRANCA_TOPIC_REPLICATION"] == "3"
    assert data["COBRANCA_HTTP_HOST"] == "0.0.0.0"
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    # Nothing secret in the ConfigMap, nothing empty either.
    assert "COBRANCA_DATABASE_URL" not in data
    assert "COBRANCA_SECRET_KEY" not in data
    assert all(value != "" for value in data.values())

    secrets = of_kind(objects, "Secret")
    secret = secrets[f"{FULLNAME}-secrets"]
    assert secret["stringData"]["COBRANCA_DATABASE_URL"].startswith("postgresql://")
    assert secret["stringData"]["COBRANCA_SECRET_KEY"] == "k" * 48

    for service in SERVICES:
        (container,) = deployment(objects, service)["spec"]["template"]["spec"]["containers"]
        sources = container["envFrom"]
        assert {"configMapRef": {"name": f"{FULLNAME}-config"}} in sources
        assert {"secretRef": {"name": f"{FULLNAME}-secrets"}} in sources
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["OTEL_SERVICE_NAME"] == f"cobranca-{service}"


def test_existing_secrets_and_the_messaging_credentials(objects: list[dict[str, Any]]) -> None:
    values = {
        **VALUES,
        "postgresql": {"url": ""},
        "secrets": {"existingSecret": "cobranca-managed", "messagingEnv": {"SMTP_PASSWORD": "s"}},
    }
    rendered = render(values)
    secrets = of_kind(rendered, "Secret")
    assert set(secrets) == {f"{FULLNAME}-messaging"}
    for service in SERVICES:
        (container,) = deployment(rendered, service)["spec"]["template"]["spec"]["containers"]
        names = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        expected = ["cobranca-managed"]
        if service == "messaging":
            expected.append(f"{FULLNAME}-messaging")
        assert names == expected, service


def test_required_values_are_asked_for() -> None:
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")
    for missing, message in (
        ("kafka", "kafka.bootstrapServers is required"),
        ("postgresql", "postgresql.url is required"),
        ("secrets", "secrets.secretKey is required"),
    ):
        values = {k: v for k, v in VALUES.items() if k != missing}
        with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
            render(values)


def test_the_hook_job_creates_the_topics_before_install_and_upgrade(
    objects: list[dict[str, Any]],
) -> None:
    (job,) = of_kind(objects, "Job").values()
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"] == ["topics"]
    env = {e["name"]: e["value"] for e in container["env"]}
    # A pre-install hook runs before the release's ConfigMap exists: its settings are inline.
    assert env["COBRANCA_KAFKA_BOOTSTRAP"] == "my-cluster-kafka-bootstrap.kafka:9092"
    assert env["COBRANCA_TOPIC_REPLICATION"] == "3"
    assert "envFrom" not in container
    assert "serviceAccountName" not in pod


def test_pod_disruption_budgets_select_each_service(objects: list[dict[str, Any]]) -> None:
    budgets = of_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == {f"{FULLNAME}-{s}" for s in SERVICES}
    for service in SERVICES:
        selector = budgets[f"{FULLNAME}-{service}"]["spec"]["selector"]["matchLabels"]
        assert selector == deployment(objects, service)["spec"]["selector"]["matchLabels"]
    assert budgets[f"{FULLNAME}-gateway"]["spec"]["minAvailable"] == 1


def _egress_ports(policy: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}


def test_network_policies_let_services_reach_only_what_they_need(
    objects: list[dict[str, Any]],
) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    assert set(policies) == {f"{FULLNAME}-{s}" for s in (*SERVICES, "migrations")}
    common = {53, 9092, 5432, 4317, 4318}  # DNS, Kafka, PostgreSQL, the OTLP collector
    for service in SERVICES:
        policy = policies[f"{FULLNAME}-{service}"]
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert (
            spec["podSelector"]["matchLabels"]
            == (deployment(objects, service)["spec"]["selector"]["matchLabels"])
        )
        extra = {25, 465, 587, 443} if service == "messaging" else set()
        assert _egress_ports(policy) == common | extra, service
        if service == "gateway":
            (rule,) = spec["ingress"]
            assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
            assert rule["from"]  # the ingress controller, not everyone
        else:
            assert spec["ingress"] == []
    kafka_rule = next(
        rule
        for rule in policies[f"{FULLNAME}-negotiation"]["spec"]["egress"]
        if rule["ports"] == [{"port": 9092, "protocol": "TCP"}]
    )
    assert kafka_rule["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
    ]
    assert _egress_ports(policies[f"{FULLNAME}-migrations"]) == {53, 9092}

    # Without telemetry, no way out to a collector.
    quiet = render({k: v for k, v in VALUES.items() if k != "telemetry"})
    for policy in of_kind(quiet, "NetworkPolicy").values():
        assert not _egress_ports(policy) & {4317, 4318}
    disabled = render({**VALUES, "networkPolicy": {"enabled": False}})
    assert not of_kind(disabled, "NetworkPolicy")


def test_the_chart_lints_clean() -> None:
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")
    result = helm.lint(str(CHART), VALUES, strict=True)
    assert result["errors"] == []
    # Severity 1 is INFO ("icon is recommended"); warnings and errors are 2 and up.
    assert [m for m in result["messages"] if m["severity"] > 1] == []


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_rendered_objects_pass_the_kubernetes_schemas(
    objects: list[dict[str, Any]], kube_version: str
) -> None:
    kv = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (Kubernetes JSON schemas) missing"
    )
    kinds = set()
    variants = [
        objects,
        render(
            {**VALUES, "gateway": {"ingress": {"enabled": True, "hosts": [{"host": "c.example"}]}}}
        ),
    ]
    for rendered in variants:
        for obj in rendered:
            kv.validate(obj, kube_version, strict=True)
            kinds.add(obj["kind"])
    assert kinds >= {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
    }


def test_the_schema_check_is_real(objects: list[dict[str, Any]]) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate missing")
    broken = json.loads(json.dumps(deployment(objects, "gateway")))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, KUBE_VERSIONS[0], strict=True)
    broken = json.loads(json.dumps(deployment(objects, "gateway")))
    broken["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = "nobody"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, KUBE_VERSIONS[0], strict=True)


def test_the_chart_readme_documents_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))

    def leaves(node: Any, prefix: str = "") -> set[str]:
        # Maps of settings are documented as a whole (services.<name> per field).
        if isinstance(node, dict) and node and prefix not in {"config", "services"}:
            found: set[str] = set()
            for key, value in node.items():
                found |= leaves(value, f"{prefix}.{key}" if prefix else key)
            return found
        return {prefix}

    top = {k for k in leaves(values) if k != "services" and not k.startswith("networkPolicy.")}
    missing = {k for k in top if not any(k == d or k.startswith(d + ".") for d in documented)}
    missing |= {f"networkPolicy.{k}" for k in values["networkPolicy"]} - documented
    fields = {field for service in values["services"].values() for field in service}
    missing |= {
        f"services.<name>.{field}"
        for field in fields
        if not re.search(rf"`services\.[^`]+\.{field}`|`{field}`", readme)
    }
    assert not missing, f"values not in helm/cobranca/README.md: {sorted(missing)}"


# ---------------------------------------------------------------------------------------------
# docker compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict)
    return {k: str(v) for k, v in env.items()}


def test_compose_runs_every_service_from_the_one_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["image"] == "${COBRANCA_IMAGE:-cobranca:local}"
        assert service["read_only"] is True
        assert service["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
        env = _env(service)
        assert env["COBRANCA_KAFKA_BOOTSTRAP"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
        assert env["COBRANCA_DATABASE_URL"].startswith("postgresql://cobranca:")
        assert "@postgres:5432/" in env["COBRANCA_DATABASE_URL"]
        assert env["COBRANCA_TOPIC_REPLICATION"] == "3"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SERVICE_NAME"] == f"cobranca-{name}"
    assert services["topics"]["command"] == ["topics"]
    assert services["gateway"]["deploy"]["replicas"] == 2
    assert services["gateway"]["ports"] == ["8000-8001:8000"]
    assert "/health/live" in " ".join(services["gateway"]["healthcheck"]["test"])
    for name in set(SERVICES) - {"gateway"}:
        assert "ports" not in services[name]
        assert services[name].get("deploy", {}).get("replicas", 1) == 1


def test_compose_has_three_kraft_brokers_replicating_three_times(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    brokers = {name: s for name, s in services.items() if name.startswith("kafka-")}
    assert sorted(brokers) == ["kafka-1", "kafka-2", "kafka-3"]
    cluster_ids = set()
    node_ids = set()
    for name, broker in brokers.items():
        assert broker["image"].startswith("apache/kafka:")
        env = _env(broker)
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == (
            "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        )
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        cluster_ids.add(env["CLUSTER_ID"])
        node_ids.add(env["KAFKA_NODE_ID"])
        assert broker["volumes"] == [f"{name}:/var/lib/kafka/data"]
    assert len(cluster_ids) == 1
    assert node_ids == {"1", "2", "3"}
    # The pom's Kafka and the image's are the same version.
    pom_version = re.search(r"<kafka.version>([^<]+)<", (ROOT / "pom.xml").read_text())
    assert pom_version is not None
    assert brokers["kafka-1"]["image"] == f"apache/kafka:{pom_version.group(1)}"


def test_compose_has_postgres_and_the_telemetry_pipeline(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["jaeger"]["image"].startswith("jaegertracing/")
    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector")
    assert "./otel-collector.yaml:/etc/otelcol/config.yaml:ro" in collector["volumes"]

    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/jaeger"]
    for pipeline in pipelines.values():
        assert pipeline["receivers"] == ["otlp"]
        for component in pipeline["processors"]:
            assert component in config["processors"]
        for component in pipeline["exporters"]:
            assert component in config["exporters"]


def test_compose_secrets_come_from_the_env_file(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert required == {"KAFKA_CLUSTER_ID", "POSTGRES_PASSWORD", "COBRANCA_SECRET_KEY"}
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example)
    assert len(example["KAFKA_CLUSTER_ID"]) == 22


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        probe = subprocess.run(
            ["docker-compose", "version", "--short"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip().startswith(("2", "v2")):
            return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "no Docker Compose v2 here (the `docker compose` plugin or a docker-compose v2 "
            "binary): `docker compose config` could not be run"
        )
    result = subprocess.run(
        [
            *command,
            "--env-file",
            str(ENV_EXAMPLE),
            "-f",
            str(COMPOSE),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert set(services) >= {*SERVICES, "kafka-1", "kafka-2", "kafka-3", "postgres"}
    assert services["gateway"]["deploy"]["replicas"] == 2
    env = services["negotiation"]["environment"]
    assert env["COBRANCA_SECRET_KEY"] == ("change-me-to-48-random-url-safe-characters-000000000000")
    # Without the secrets, compose refuses to start anything.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAFKA_CLUSTER_ID", "POSTGRES_PASSWORD", "COBRANCA_SECRET_KEY"}
    }
    missing = subprocess.run(
        [*command, "--env-file", "/dev/null", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd="/",
        env=env,
    )
    assert missing.returncode != 0
    assert "deploy/.env" in missing.stderr


# ---------------------------------------------------------------------------------------------
# The image


def test_the_dockerfile_builds_one_small_non_root_image() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, flags=re.MULTILINE)
    assert [name for _, name in stages] == ["builder", "runtime"]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, flags=re.MULTILINE)
    runtime = text.split("AS runtime", 1)[1]
    # The final stage gets the venv from the builder, installs no compiler and no packages.
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "apt-get" not in runtime
    assert "pip install" not in runtime
    user = re.search(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert user is not None
    uid = user.group(1).split(":")[0]
    assert uid not in ("root", "0")
    assert re.search(r"^ARG UID=(\d+)", runtime, flags=re.MULTILINE).group(1) != "0"  # type: ignore[union-attr]
    assert 'ENTRYPOINT ["cobranca"]' in runtime
    assert 'CMD ["serve", "gateway"]' in runtime
    assert "EXPOSE 8000" in runtime
    assert not re.search(r"^HEALTHCHECK", text, flags=re.MULTILINE)
    # What the wheel is built from is in the build context.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1 :][:7] == [
        "!pyproject.toml",
        "!README.md",
        "!contracts/",
        "!service_runtime/",
        "!services/",
        "!cobranca/",
        "!analytics/",
    ]
    for package in ("contracts", "service_runtime", "services", "cobranca", "analytics"):
        assert f"COPY {package} ./{package}" in text
