"""Following the alias: polling, rollback from memory, failures that never reach clients, deleted aliases."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.traffic import Traffic


@dataclass
class Versions:
    name: str
    versions: list[str]
    client: MlflowClient
    body: bytes

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@Production"

    def move(self, version: str) -> None:
        self.client.set_registered_model_alias(self.name, "Production", version)


def register_versions(server: MlflowServer, frame_model: RegisteredModel, count: int, trained: int = 0) -> Versions:
    """`count` versions of a fresh model name on `server`; the first is aliased Production.

    The first `trained` versions are trained and logged here, each its own logged model, run and reference
    predictions (a test that corrupts or reads a version's own artifacts asks for that). The others are
    versions of an existing logged model and its run (`create_model_version`, as test_smoke does): the
    service loads them like any version, and they are told apart by their numbers, for a registry call each
    instead of a training (seconds each on a busy machine). That logged model is `frame_model`'s when it is
    registered on `server`, else the first version's (then trained here, whatever `trained` says).
    """
    from training.train import train_and_register

    name = f"follow-{uuid.uuid4().hex[:8]}"
    own = bool(frame_model.name) and server.uri == frame_model.tracking_uri
    trained = min(count, trained if own else max(trained, 1))
    versions = [
        str(
            train_and_register(
                name, frame_model.frame, "target", alias="Production" if i == 0 else None, tracking_uri=server.uri
            ).version
        )
        for i in range(trained)
    ]
    client = MlflowClient(server.uri)
    lineage = client.get_model_version(*((name, versions[0]) if versions else (frame_model.name, frame_model.version)))
    source, run_id = lineage.source, lineage.run_id  # models:/m-<logged model id>, its training run
    assert source is not None
    if not versions:
        client.create_registered_model(name)
    versions += [
        client.create_model_version(name, source, run_id=run_id, model_id=source.removeprefix("models:/")).version
        for _ in range(count - len(versions))
    ]
    if not trained:
        client.set_registered_model_alias(name, "Production", versions[0])
    rows = frame_model.frame.drop(columns="target").head(3)
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
    return Versions(name, [str(v) for v in versions], client, body)


@pytest.fixture(scope="module")
def three_versions(mlflow_server: MlflowServer, demo_model: RegisteredModel) -> Versions:
    return register_versions(mlflow_server, demo_model, 3)


def served_version(service: RunningService, body: bytes) -> str:
    response = httpx.post(f"{service.url}/invocations", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.headers["x-model-version"]


def metric_value(service: RunningService, line_prefix: str) -> float:
    for line in httpx.get(f"{service.url}/metrics").text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_alias_flips_under_load_fail_no_request(
    three_versions: Versions, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = three_versions
    v.move(v.versions[0])
    service = start_service({"MODEL_URI": v.uri, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.5"})
    flips = [v.versions[1], v.versions[2], v.versions[1], v.versions[0]]
    with Traffic(f"{service.url}/invocations", v.body, clients=8) as traffic:
        for version in flips:
            v.move(version)
            wait_until(lambda version=version: traffic.last_version == version, timeout=120, what=f"v{version}")
    assert traffic.failures == []
    assert set(traffic.versions) == set(v.versions)
    assert traffic.total > 100
    assert metric_value(service, f'model_reloads_total{{model="{v.name}",result="success"}}') >= 4
    # the last flip went back to a version still in memory (MODEL_CACHE_SIZE=2): no download needed
    assert f"version {v.versions[1]} (was {v.versions[2]}) after" in service.log_text()
    assert "from memory" in service.log_text()


def test_admin_reload_needs_the_token(
    three_versions: Versions, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = three_versions
    v.move(v.versions[0])
    service = start_service(
        {
            "MODEL_URI": v.uri,
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "ADMIN_TOKEN": "s3cret",
        }
    )
    assert httpx.post(f"{service.url}/admin/reload").status_code == 401
    assert httpx.post(f"{service.url}/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
    v.move(v.versions[2])
    assert served_version(service, v.body) == v.versions[0]  # polling is off: nothing moves by itself
    response = httpx.post(f"{service.url}/admin/reload", headers={"Authorization": "Bearer s3cret"}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json() == {"previous": v.versions[0], "current": v.versions[2]}
    assert served_version(service, v.body) == v.versions[2]
    assert "s3cret" not in service.log_text()


def test_corrupt_version_is_not_served_and_a_later_good_move_is_followed(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = register_versions(mlflow_server, demo_model, 3, trained=2)  # `bad` is corrupted: its own files, not v1's
    bad, good = v.versions[1], v.versions[2]
    source = v.client.get_model_version(v.name, bad).source  # models:/m-<id>
    model_files = list(Path(mlflow_server.artifacts_dir).glob(f"*/models/{source.split('/')[-1]}/artifacts/model.*"))
    assert model_files, "the model file of the corrupt version was not found on the artifact store"
    for path in model_files:
        path.write_bytes(b"this is not a model")
    service = start_service({"MODEL_URI": v.uri, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.5"})
    with Traffic(f"{service.url}/invocations", v.body, clients=4) as traffic:
        v.move(bad)
        wait_until(
            lambda: metric_value(service, f'model_reloads_total{{model="{v.name}",result="failure"}}') >= 1,
            timeout=120,
            what="failure",
        )
        assert httpx.get(f"{service.url}/model").json()["version"] == v.versions[0]
        assert "failed to load" in httpx.get(f"{service.url}/model").json()["last_error"]
        v.move(good)
        wait_until(lambda: traffic.last_version == good, timeout=120, what="the good version")
    assert traffic.failures == []
    assert bad not in traffic.versions
    assert f"version {bad} failed to load" in service.log_text()


def test_deleted_alias_keeps_the_last_version(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = register_versions(mlflow_server, demo_model, 1)
    service = start_service({"MODEL_URI": v.uri, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.3"})
    v.client.delete_registered_model_alias(v.name, "Production")
    wait_until(lambda: httpx.get(f"{service.url}/model").json()["alias_missing"], timeout=60, what="alias_missing")
    assert metric_value(service, "model_alias_missing") == 1.0
    assert served_version(service, v.body) == v.versions[0]
    assert httpx.get(f"{service.url}/health/ready").status_code == 200
    v.move(v.versions[0])
    wait_until(lambda: not httpx.get(f"{service.url}/model").json()["alias_missing"], timeout=60, what="alias back")
    assert metric_value(service, "model_alias_missing") == 0.0
    assert service.log_text().count("does not exist") == 1  # logged once per state change, not per poll


def test_pinned_version_does_not_follow(
    three_versions: Versions, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = three_versions
    service = start_service(
        {"MODEL_URI": f"models:/{v.name}/{v.versions[1]}", "MLFLOW_TRACKING_URI": mlflow_server.uri}
    )
    assert served_version(service, v.body) == v.versions[1]
    info = httpx.get(f"{service.url}/model").json()
    assert info["following"] is False
    assert info["alias"] is None


def test_two_workers_each_follow_and_converge(
    three_versions: Versions, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = three_versions
    v.move(v.versions[0])
    service = start_service(
        {"MODEL_URI": v.uri, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "1", "WORKERS": "2"}
    )
    v.move(v.versions[1])

    def converged() -> bool:  # new connections land on either worker: 20 in a row must agree
        return all(served_version(service, v.body) == v.versions[1] for _ in range(20))

    wait_until(converged, timeout=120, interval=0.2, what="both workers on the new version")


def test_registry_killed_under_load_fails_no_request_and_following_resumes(
    demo_model: RegisteredModel, tmp_path: Path, start_service: Callable[..., RunningService]
) -> None:
    server = MlflowServer(tmp_path / "registry")
    server.root.mkdir()
    server.start()
    try:
        v = register_versions(server, demo_model, 2)
        service = start_service({"MODEL_URI": v.uri, "MLFLOW_TRACKING_URI": server.uri, "RELOAD_INTERVAL_S": "0.5"})
        with Traffic(f"{service.url}/invocations", v.body, clients=8) as traffic:
            server.kill()
            wait_until(
                lambda: metric_value(service, "model_registry_errors_total") >= 2, timeout=60, what="registry errors"
            )
            assert httpx.get(f"{service.url}/health/ready").status_code == 200
            assert httpx.get(f"{service.url}/model").json()["registry_reachable"] is False
            served_during_outage = traffic.total
            wait_until(lambda: traffic.total > served_during_outage + 50, timeout=60, what="traffic during the outage")
            server.start()
            v.move(v.versions[1])
            wait_until(lambda: traffic.last_version == v.versions[1], timeout=120, what="following after recovery")
        assert traffic.failures == []
        assert httpx.get(f"{service.url}/model").json()["registry_reachable"] is True
        log = service.log_text()
        assert log.count("MLflow registry unreachable") == 1
        assert log.count("MLflow registry reachable again") == 1
    finally:
        server.stop()
