"""Start-up: bad configuration fails fast with one line; an unreachable registry is retried."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RegisteredModel
from tests.helpers import free_port, wait_until
from tests.processes import REPO, MlflowServer, RunningService, base_env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=base_env(**env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"MODEL_URI": "demo@Production"}, ["MODEL_URI", "models:/<name>@<alias>"]),
        ({"MODEL_URI": "models:/demo@latest"}, ["reserved"]),
        ({}, ["MODEL_URI"]),
        ({"MODEL_URI": "models:/demo/1", "RELOAD_INTERVAL_S": "-1"}, ["RELOAD_INTERVAL_S"]),
        ({"MODEL_URI": "models:/demo/1", "LOG_FORMAT": "xml"}, ["LOG_FORMAT"]),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(env: dict[str, str], words: list[str]) -> None:
    result = _run(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("suffix", ["@NoSuchAlias", "-missing@Production", "/999"])
def test_unknown_model_alias_or_version_is_one_line_and_exit_2(suffix: str, demo_model: RegisteredModel) -> None:
    uri = f"models:/{demo_model.name}{suffix}"
    result = _run({"MLFLOW_TRACKING_URI": demo_model.tracking_uri}, "--model-uri", uri)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "does not exist" in result.stderr


def test_unreachable_registry_is_live_not_ready_then_ready(
    demo_model: RegisteredModel,
    mlflow_server: MlflowServer,
    tmp_path: Path,
    start_service: Callable[..., RunningService],
) -> None:
    """A second tracking server on the same store, started only after the service: the service waits for it."""
    late = MlflowServer(tmp_path, backend_uri=mlflow_server.backend_uri)
    late.artifacts_dir = mlflow_server.artifacts_dir
    late.args[late.args.index("--artifacts-destination") + 1] = str(mlflow_server.artifacts_dir)
    service = start_service({"MODEL_URI": demo_model.uri, "MLFLOW_TRACKING_URI": late.uri}, wait="live")
    not_ready = httpx.get(f"{service.url}/health/ready")
    assert not_ready.status_code == 503
    assert "unreachable" in not_ready.json()["reason"]
    assert httpx.get(f"{service.url}/ping").status_code == 503
    scored = httpx.post(f"{service.url}/invocations", json={"inputs": [[1]]})
    assert scored.status_code == 503
    late.start()
    try:
        service.wait_ready(timeout=120)
        assert httpx.get(f"{service.url}/model").json()["version"] == demo_model.version
    finally:
        late.stop()


def test_flags_override_environment(demo_model: RegisteredModel, start_service: Callable[..., RunningService]) -> None:
    port = free_port()
    service = RunningService({"MODEL_URI": "models:/wrong@Production", "MLFLOW_TRACKING_URI": demo_model.tracking_uri})
    service.args += ["--model-uri", demo_model.uri, "--port", str(port)]
    service.port, service.url = port, f"http://127.0.0.1:{port}"
    service.start()
    try:
        wait_until(lambda: httpx.get(f"{service.url}/health/ready").status_code == 200, timeout=120, what="ready")
    finally:
        service.terminate()
