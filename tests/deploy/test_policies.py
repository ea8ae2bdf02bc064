"""What STYLE.md asks of every pod and of the predictor's and drift job's workload resources."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy import manifests

ALL = list(manifests.KUSTOMIZATIONS)
PREDICTOR_SETS = ["base", "dev", "prod", "many-models"]


def all_workloads() -> list[tuple[str, manifests.Resource]]:
    return [(name, r) for name in ALL for r in manifests.workloads(manifests.render(name))]


def ids(item: tuple[str, manifests.Resource]) -> str:
    return f"{item[0]}:{item[1]['kind']}/{item[1]['metadata']['name']}"


@pytest.mark.parametrize("item", all_workloads(), ids=ids)
def test_pods_run_restricted(item: tuple[str, manifests.Resource]) -> None:
    _, resource = item
    pod = manifests.pod_spec(resource)
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        assert isinstance(context[key], int), key
        assert context[key] > 0, key
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert not security.get("privileged", False)
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{container['name']} {bound}"
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts, "a read-only root needs a writable /tmp"
        assert "emptyDir" in volumes[mounts["/tmp"]]


def quantity(text: str) -> float:
    """A Kubernetes quantity (`250m`, `1`, `512Mi`, `2Gi`) as a number."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if str(text).endswith(suffix):
            return float(str(text)[: -len(suffix)]) * factor
    return float(text)


def predictor(name: str) -> manifests.Resource:
    return manifests.one(manifests.render(name), "Deployment", manifests.PREDICTOR)


def labels_select(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_predictor_is_scaled_by_the_hpa_only(name: str) -> None:
    resources = manifests.render(name)
    deployment = predictor(name)
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    hpa = manifests.one(resources, "HorizontalPodAutoscaler", manifests.PREDICTOR)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": manifests.PREDICTOR}
    assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_service_and_budget_select_the_predictor_pods(name: str) -> None:
    resources = manifests.render(name)
    pod_labels = predictor(name)["spec"]["template"]["metadata"]["labels"]
    service = manifests.one(resources, "Service", manifests.PREDICTOR)
    assert labels_select(service["spec"]["selector"], pod_labels)
    port_names = {p["name"] for p in manifests.container(predictor(name))["ports"]}
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    budgets = manifests.find(resources, "PodDisruptionBudget", manifests.PREDICTOR)
    hpa = manifests.one(resources, "HorizontalPodAutoscaler", manifests.PREDICTOR)
    if hpa["spec"]["minReplicas"] > 1 or name == "base":
        assert len(budgets) == 1, "several replicas: keep one serving through voluntary disruptions"
    for budget in budgets:
        assert budget["spec"]["minAvailable"] == 1
        assert labels_select(budget["spec"]["selector"]["matchLabels"], pod_labels)


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_predictor_drains_before_it_is_killed(name: str) -> None:
    pod = manifests.pod_spec(predictor(name))
    container = manifests.container(predictor(name))
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert int(sleep[1]) > 0
    drain = float(manifests.config_data(manifests.render(name))["SHUTDOWN_GRACE_S"])
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + drain


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_predictor_probes(name: str) -> None:
    container = manifests.container(predictor(name))
    probes: dict[str, Any] = {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert probes["startupProbe"]["httpGet"]["path"] in ("/health/live", "/health/ready")
    startup = probes["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "slow model loads need minutes"
    # Optional keys: a missing token switches a route off. Prod needs its capture destination: a pod
    # that would capture nowhere the drift job reads must not start (CreateContainerConfigError).
    required = {"capture-uri"} if name in ("prod", "many-models") else set()
    for secret in (v for v in container["env"] if "secretKeyRef" in v.get("valueFrom", {})):
        ref = secret["valueFrom"]["secretKeyRef"]
        assert ref.get("optional", False) is (ref["key"] not in required), secret["name"]


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_drift_cronjob_never_overlaps_and_gives_up(name: str) -> None:
    resources = manifests.render(name)
    cronjob = manifests.one(resources, "CronJob", manifests.DRIFT)
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1
    assert spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0
    assert job["backoffLimit"] >= 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    drift = manifests.container(cronjob)
    assert drift["command"][:4] == ["python", "-m", "drift", "run"]
    assert drift["image"] == manifests.container(predictor(name))["image"], "one image for both"


def test_dev_is_small_and_talks_to_the_example_tracking_server() -> None:
    resources = manifests.render("dev")
    assert manifests.one(resources, "HorizontalPodAutoscaler", manifests.PREDICTOR)["spec"]["minReplicas"] == 1
    config = manifests.config_data(resources)
    assert config["LOG_LEVEL"] == "debug"
    example = manifests.render("mlflow-server")
    service = manifests.one(example, "Service", "mlflow")
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert config["MLFLOW_TRACKING_URI"] == f"http://{host}:{service['spec']['ports'][0]['port']}"
    args = manifests.container(manifests.one(example, "Deployment", "mlflow"))["args"]
    allowed = args[args.index("--allowed-hosts") + 1].split(",")
    assert f"{host}:{service['spec']['ports'][0]['port']}" in allowed, "MLflow would reject the Host header"


def test_prod_is_bigger_spread_pinned_and_monitored() -> None:
    resources = manifests.render("prod")
    hpa = manifests.one(resources, "HorizontalPodAutoscaler", manifests.PREDICTOR)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    pod = manifests.pod_spec(predictor("prod"))
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} >= {"kubernetes.io/hostname"}
    for workload in manifests.workloads(resources):
        image = manifests.container(workload)["image"]
        assert "@sha256:" in image or (":" in image.split("/")[-1] and not image.endswith(":latest")), image
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            dev, prod = (
                quantity(manifests.container(predictor(n))["resources"][bound][resource]) for n in ("dev", "prod")
            )
            assert prod > dev, f"{bound}.{resource}"
    assert {r["kind"] for r in resources} >= {"ServiceMonitor", "PrometheusRule"}


def test_example_mlflow_server_keeps_secrets_out_of_the_spec_and_delivers_webhooks_in_cluster() -> None:
    container = manifests.container(manifests.one(manifests.render("mlflow-server"), "Deployment", "mlflow"))
    env = {v["name"]: v for v in container["env"]}
    for secret in (
        "MLFLOW_BACKEND_STORE_URI",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY",
    ):
        assert "secretKeyRef" in env[secret]["valueFrom"], secret
    assert env["MLFLOW_WEBHOOK_ALLOWED_SCHEMES"]["value"] == "http,https"
    assert env["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"]["value"] == "true"
    args = container["args"]
    assert "--serve-artifacts" in args
    assert args[args.index("--artifacts-destination") + 1].startswith("s3://")
    assert not any("postgresql://" in a for a in args), "the database password would show in the pod spec"
