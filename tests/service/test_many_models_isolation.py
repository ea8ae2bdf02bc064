"""Models kept apart: alias flips of two models under load, a raising and a hanging model beside a healthy one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from tests.conftest import RegisteredModel
from tests.hardening.test_limits import MAX_ABANDONED, log_sleepy_model
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.service.test_following import metric_value, register_versions
from tests.service.test_many_models import post
from tests.traffic import Traffic

HANG_S = 600.0
"""Longest a sleepy call blocks if the release file never comes (the test creates it long before)."""


def test_alias_flips_of_two_models_under_load_fail_no_request(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    a, b = register_versions(mlflow_server, demo_model, 2), register_versions(mlflow_server, demo_model, 2)
    for model in (a, b):
        model.move(model.versions[0])
    service = start_service(
        {"MODEL_URI": f"{a.uri},{b.uri}", "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.3"}
    )
    with (
        Traffic(f"{service.url}/invocations/{a.name}", a.body, clients=4) as on_a,
        Traffic(f"{service.url}/invocations/{b.name}", b.body, clients=4) as on_b,
    ):
        for index in (1, 0):
            a.move(a.versions[index])
            b.move(b.versions[index])
            for model, traffic in ((a, on_a), (b, on_b)):
                target = model.versions[index]
                wait_until(
                    lambda t=traffic, v=target: t.last_version == v, timeout=120, what=f"{model.name} at {target}"
                )
    for model, traffic in ((a, on_a), (b, on_b)):
        assert traffic.failures == [], traffic.failures[:5]
        assert set(traffic.versions) == set(model.versions), traffic.versions


def _log_raising_model(tracking_uri: str) -> str:
    """`RaisesOnNegative` (tests/compat/pyfuncs.py) with a signature, registered and aliased Production."""
    from tests.compat.pyfuncs import RaisesOnNegative

    mlflow.set_tracking_uri(tracking_uri)
    name = f"raising-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RaisesOnNegative(),
            signature=infer_signature(example, [2.0, 4.0]),
            input_example=example,
            pip_requirements=["mlflow"],
            registered_model_name=name,
        )
    MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", str(info.registered_model_version))
    return name


def _hang(service: RunningService, name: str, release: Path) -> int:
    params = {"sleep_s": HANG_S, "trace": "", "release": str(release)}
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.5]]}, "params": params}
    return httpx.post(f"{service.url}/invocations/{name}", json=body, timeout=60).status_code


def test_a_raising_and_a_hanging_model_leave_the_healthy_one_serving(
    demo_model: RegisteredModel,
    mlflow_server: MlflowServer,
    start_service: Callable[..., RunningService],
    tmp_path: Path,
) -> None:
    healthy = register_versions(mlflow_server, demo_model, 1)
    sleepy, raising = log_sleepy_model(mlflow_server.uri), _log_raising_model(mlflow_server.uri)
    service = start_service(
        {
            "MODEL_URI": ",".join([healthy.uri, f"models:/{sleepy}@Production", f"models:/{raising}@Production"]),
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "REQUEST_TIMEOUT_S": "10",  # the healthy model answers well within it, even on a busy machine
            "STUCK_LIVENESS_S": "1",
        }
    )
    release = tmp_path / "release"
    try:
        with Traffic(f"{service.url}/invocations/{healthy.name}", healthy.body, clients=4) as traffic:
            assert [_hang(service, sleepy, release) for _ in range(MAX_ABANDONED + 1)] == [504] * (MAX_ABANDONED + 1)
            stuck = wait_until(
                lambda: (r := httpx.get(f"{service.url}/v2/models/{sleepy}/ready")).status_code == 503 and r,
                timeout=60,
                what="the hanging model to answer not ready",
            )
            assert "stuck" in stuck.json()["reason"]
            refused = post(
                service, f"/invocations/{raising}", b'{"dataframe_split": {"columns": ["x"], "data": [[-1]]}}'
            )
            assert refused.status_code == 500, refused.text
            assert refused.json()["error_code"] == "INTERNAL_ERROR"
            fine = post(service, f"/invocations/{raising}", b'{"dataframe_split": {"columns": ["x"], "data": [[1]]}}')
            assert fine.json() == {"predictions": [2.0]}
            assert _hang(service, sleepy, release) == 503
            assert httpx.get(f"{service.url}/health/ready").status_code == 200  # the others keep the pod in service
            assert httpx.get(f"{service.url}/health/live").status_code == 200  # one stuck model never restarts it
            wait_until(lambda: traffic.total >= 20, timeout=120, what="healthy traffic while the others fail")
        assert traffic.failures == [], traffic.failures[:5]
        assert metric_value(service, f'model_errors_total{{model="{raising}",version="1"}}') == 1
    finally:
        release.touch()
    wait_until(
        lambda: httpx.get(f"{service.url}/v2/models/{sleepy}/ready").status_code == 200,
        timeout=120,
        what="the sleepy model back once its calls return",
    )
