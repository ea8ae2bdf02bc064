"""Several models in one service: routed by name, selected by a registry filter, kept apart at start-up.

Real parts: the session's MLflow server, `python -m service` on a free port. Isolation under load and
failing models beside healthy ones: tests/service/test_many_models_isolation.py.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import REPO, MlflowServer, RunningService, base_env
from tests.service.test_following import Versions, metric_value, register_versions


@pytest.fixture(scope="module")
def pair(mlflow_server: MlflowServer, demo_model: RegisteredModel) -> tuple[Versions, Versions]:
    """Two registered models, two versions each, Production on the first."""
    return register_versions(mlflow_server, demo_model, 2), register_versions(mlflow_server, demo_model, 2)


def post(service: RunningService, path: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{service.url}{path}", content=body, headers={"Content-Type": "application/json"}, timeout=60)


def test_several_uris_are_served_and_routed_by_name(
    pair: tuple[Versions, Versions], mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    a, b = pair
    service = start_service(
        {"MODEL_URI": f"{a.uri},{b.uri}", "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0"}
    )
    for model in (a, b):
        answer = post(service, f"/invocations/{model.name}", model.body)
        assert answer.status_code == 200, answer.text
        assert (answer.headers["x-model-name"], answer.headers["x-model-version"]) == (model.name, model.versions[0])

    plain = post(service, "/invocations", a.body)
    assert plain.status_code == 400
    assert plain.json()["error_code"] == "BAD_REQUEST"
    assert a.name in plain.json()["message"]
    assert b.name in plain.json()["message"]
    unknown = post(service, "/invocations/no-such-model", a.body)
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "no-such-model" in unknown.json()["message"]
    assert unknown.headers["x-server-request-id"]  # answered on the direct path (service/direct_routes.py)
    assert post(service, f"/invocations/{a.name}/extra", a.body).status_code == 404  # the router's own 404
    metrics = httpx.get(f"{service.url}/metrics").text
    for status in ("200", "404"):
        assert f'http_requests_total{{method="POST",route="/invocations/{{name}}",status="{status}"}}' in metrics
    assert 'http_requests_total{method="POST",route="/invocations",status="400"}' in metrics
    assert 'http_requests_total{method="POST",route="unmatched",status="404"}' in metrics

    assert httpx.get(f"{service.url}/v2/models/{b.name}/ready").json() == {"name": b.name, "ready": True}
    assert httpx.get(f"{service.url}/v2/models/no-such-model/ready").status_code == 404
    assert httpx.get(f"{service.url}/v2/models/{a.name}").json()["versions"] == [a.versions[0]]
    described = httpx.get(f"{service.url}/model").json()
    assert [(m["name"], m["version"]) for m in described["models"]] == sorted(
        [(a.name, a.versions[0]), (b.name, b.versions[0])]
    )
    ready = httpx.get(f"{service.url}/health/ready").json()
    assert ready["models"] == {a.name: a.versions[0], b.name: b.versions[0]}
    for model in (a, b):
        assert metric_value(service, f'model_ready{{model="{model.name}"}}') == 1


def test_a_model_that_cannot_load_keeps_the_others_out_of_service_only_until_the_startup_bound(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    healthy = register_versions(mlflow_server, demo_model, 1)
    broken = register_versions(mlflow_server, demo_model, 1, trained=1)  # corrupted: its own files
    _corrupt(mlflow_server, broken, broken.versions[0])
    env = {"MODEL_URI": f"{healthy.uri},{broken.uri}", "MLFLOW_TRACKING_URI": mlflow_server.uri}

    within = start_service({**env, "MODEL_STARTUP_BOUND_S": "3600"}, wait="live")
    wait_until(
        lambda: metric_value(within, f'model_reloads_total{{model="{broken.name}",result="failure"}}') >= 1,
        timeout=120,
        what="the broken model's failed load",
    )
    wait_until(lambda: post(within, f"/invocations/{healthy.name}", healthy.body).status_code == 200, timeout=120)
    not_ready = httpx.get(f"{within.url}/health/ready")
    assert not_ready.status_code == 503
    assert broken.name in not_ready.json()["reason"]

    past = start_service({**env, "MODEL_STARTUP_BOUND_S": "0"})  # waits for /health/ready 200
    assert post(past, f"/invocations/{healthy.name}", healthy.body).status_code == 200
    model_ready = httpx.get(f"{past.url}/v2/models/{broken.name}/ready")
    assert model_ready.status_code == 503
    assert model_ready.json()["ready"] is False
    described = {m["name"]: m for m in httpx.get(f"{past.url}/model").json()["models"]}
    assert described[broken.name]["version"] is None
    assert "failed to load" in described[broken.name]["last_error"]
    assert post(past, f"/invocations/{broken.name}", broken.body).status_code == 503
    assert metric_value(past, f'model_ready{{model="{broken.name}"}}') == 0
    assert metric_value(past, f'model_ready{{model="{healthy.name}"}}') == 1


def _corrupt(server: MlflowServer, model: Versions, version: str) -> None:
    """Overwrite a version's model file on the artifact store, so loading it fails."""
    source = model.client.get_model_version(model.name, version).source
    files = list(Path(server.artifacts_dir).glob(f"*/models/{source.split('/')[-1]}/artifacts/model.*"))
    assert files, "the model file was not found on the artifact store"
    for path in files:
        path.write_bytes(b"this is not a model")


def test_the_selection_follows_tags_and_never_serves_retraining_claims(
    pair: tuple[Versions, Versions], mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    a, b = pair
    client = MlflowClient(mlflow_server.uri)
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    client.set_registered_model_tag(a.name, tag, "true")
    claim = f"{a.name}.retrain-claim.{uuid.uuid4().hex[:8]}"
    client.create_registered_model(claim, tags={tag: "true", "aliasserve.retrain_claim_for": a.name})
    service = start_service(
        {
            "MODEL_FILTER": f"tags.`{tag}` = 'true'",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0.3",
        }
    )
    assert post(service, "/invocations", a.body).headers["x-model-name"] == a.name  # the only model selected
    assert post(service, f"/invocations/{b.name}", b.body).status_code == 404

    client.set_registered_model_tag(b.name, tag, "true")
    wait_until(
        lambda: post(service, f"/invocations/{b.name}", b.body).status_code == 200,
        timeout=120,
        what="the model tagged during the test to serve",
    )
    client.delete_registered_model_tag(a.name, tag)
    wait_until(
        lambda: post(service, f"/invocations/{a.name}", a.body).status_code == 404,
        timeout=120,
        what="the untagged model to stop serving",
    )
    assert [m["name"] for m in [httpx.get(f"{service.url}/model").json()]] == [b.name]
    assert claim not in service.log_text()
    assert httpx.get(f"{service.url}/health/ready").status_code == 200


def test_model_uri_and_model_filter_together_exit_2_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service"],
        env=base_env(MODEL_URI="models:/demo@Production", MODEL_FILTER="tags.serve = 'true'"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "MODEL_URI" in lines[0]
    assert "MODEL_FILTER" in lines[0]


def test_a_model_that_leaves_the_selection_finishes_its_requests_in_flight(
    mlflow_server: MlflowServer, start_service: Callable[..., RunningService], tmp_path: Path
) -> None:
    from tests.hardening.test_limits import log_sleepy_model

    client = MlflowClient(mlflow_server.uri)
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    sleepy = log_sleepy_model(mlflow_server.uri)
    client.set_registered_model_tag(sleepy, tag, "true")
    service = start_service(
        {"MODEL_FILTER": f"tags.`{tag}` = 'true'", "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.3"}
    )
    trace, release = tmp_path / "trace", tmp_path / "release"
    params = {"sleep_s": 600.0, "trace": str(trace), "release": str(release)}
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.5]]}, "params": params}
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(httpx.post, f"{service.url}/invocations/{sleepy}", json=body, timeout=120)
        wait_until(lambda: trace.exists() and "start" in trace.read_text(), timeout=60, what="the call to begin")
        client.delete_registered_model_tag(sleepy, tag)
        wait_until(
            lambda: post(service, f"/invocations/{sleepy}", b"{}").status_code == 404,
            timeout=120,
            what="the model out of the routing table",
        )
        assert not in_flight.done()
        release.touch()
        answer = in_flight.result(timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [3.0]}


def test_a_webhook_reads_the_selection_again_with_polling_off(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    from tests.service.test_webhooks import SECRET, deliver_alias_event

    first, later = register_versions(mlflow_server, demo_model, 1), register_versions(mlflow_server, demo_model, 1)
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    first.client.set_registered_model_tag(first.name, tag, "true")
    service = start_service(
        {
            "MODEL_FILTER": f"tags.`{tag}` = 'true'",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "WEBHOOK_SECRET": SECRET,
        }
    )
    later.client.set_registered_model_tag(later.name, tag, "true")
    assert post(service, f"/invocations/{later.name}", later.body).status_code == 404  # polling is off

    answer = deliver_alias_event(service, later.name, "Production", later.versions[0])
    assert answer.json()["reloading"] is True
    wait_until(
        lambda: post(service, f"/invocations/{later.name}", later.body).status_code == 200,
        timeout=120,
        what="the model the webhook announced to serve",
    )
