"""The prod overlay's workloads run from the real image exactly as `kubectl kustomize k8s/overlays/prod`
renders them (tests/containers/kubelet.py), and a manifest the image no longer matches fails."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.containers import kubelet
from tests.containers.engine import IMAGE
from tests.containers.stack import Stack
from tests.deploy import manifests
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(900)  # the first test also sets up the stack: MLflow in a container, a seeding Job


def test_predictor_starts_serves_and_stops_as_the_deployment_says(stack: Stack, report: dict[str, Any]) -> None:
    pod = stack.pod("Deployment", manifests.PREDICTOR, "predictor-manifested")
    ready_at = wait_until(
        lambda: httpx.get(f"{pod.url()}/health/ready", timeout=2).status_code == 200 and time.monotonic(),
        timeout=300,
        interval=0.1,
        what="the predictor ready",
    )
    report["predictor_start_to_ready_s"] = round(float(ready_at) - pod.started_at, 1)
    pod.wait_ready()  # the Deployment's own probes: startup, liveness, readiness
    assert httpx.get(f"{pod.url()}/model", timeout=10).json()["name"] == "demo"

    config = json.loads(stack.engine("inspect", "-f", "{{json .HostConfig}}", pod.name).stdout)
    assert (config["ReadonlyRootfs"], config["CapDrop"], config["SecurityOpt"]) == (
        True,
        ["ALL"],
        ["no-new-privileges"],
    )
    assert stack.engine("exec", pod.name, "id", "-u").stdout.strip() == "10001"
    refused = stack.engine("exec", pod.name, "python", "-c", "open('/app/x', 'w')", check=False)
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr

    started = time.monotonic()
    assert pod.delete() == 0, stack.engine.logs(pod.name)[-3000:]
    report["predictor_delete_to_exit_s"] = round(time.monotonic() - started, 1)
    report["image_size_bytes"] = stack.engine.image_size(IMAGE)


def test_drift_job_runs_as_the_cronjob_says_and_reports_too_little_data(stack: Stack) -> None:
    # Command, args and env as rendered; nothing captured yet: the stack is shared by tests/containers/ (one unit
    # of work, tests/conftest.py), and this file runs first in it (test_loop's traffic would be found here).
    result = stack.job("drift-manifested").result
    assert result["drift_detected"] is None
    assert result["current_rows"] == 0
    assert result["model"] == "demo"


def _drop_model_uri(resources: list[manifests.Resource], container: dict[str, Any]) -> None:
    del manifests.one(resources, "ConfigMap", manifests.CONFIG)["data"]["MODEL_URI"]


def _probe_a_missing_route(resources: list[manifests.Resource], container: dict[str, Any]) -> None:
    container["readinessProbe"]["httpGet"]["path"] = "/health/readyz"


def _wrong_module(resources: list[manifests.Resource], container: dict[str, Any]) -> None:
    container["command"] = ["python", "-m", "services"]


@pytest.mark.parametrize(
    "change", [_drop_model_uri, _probe_a_missing_route, _wrong_module], ids=lambda f: f.__name__[1:]
)
def test_a_manifest_the_image_does_not_match_fails(
    stack: Stack, change: Callable[[list[manifests.Resource], dict[str, Any]], None]
) -> None:
    resources = copy.deepcopy(stack.prod)
    deployment = manifests.one(resources, "Deployment", manifests.PREDICTOR)
    change(resources, manifests.pod_spec(deployment)["containers"][0])
    name = stack.engine.name(f"broken-{change.__name__[1:].replace('_', '-')}")
    pod = kubelet.start(stack.engine, stack.network, resources, deployment, name, secrets=stack.secrets, image=IMAGE)
    with pytest.raises(kubelet.ProbeFailed):
        pod.wait_ready(limit=30)
