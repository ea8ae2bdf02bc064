"""Adaptive batching merges concurrent requests and one bad request fails alone; missing values are
accepted only where the estimator takes them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from tests.conftest import RegisteredModel
from tests.processes import MlflowServer, RunningService
from training.train import train_and_register

GOOD = [1.0, 2.0, 3.0, 4.0, 5.0]
BAD = -1.0


def log_picky_model(tracking_uri: str) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    name = f"picky-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("picky_model.py")),
            signature=infer_signature(example, [2.0, 4.0]),
            input_example=example,
            pip_requirements=["mlflow"],
            registered_model_name=name,
        )
    MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", str(info.registered_model_version))
    return name


def _post(service: RunningService, x: float) -> httpx.Response:
    body = {"dataframe_split": {"columns": ["x"], "data": [[x]]}}
    return httpx.post(f"{service.url}/invocations", json=body, timeout=60)


def _merged_calls(service: RunningService) -> float:
    """Model calls that scored more than one row (all requests here have one row each)."""
    count = one = 0.0
    for line in httpx.get(f"{service.url}/metrics", timeout=10).text.splitlines():
        if line.startswith("model_batch_rows_count"):
            count += float(line.rsplit(" ", 1)[1])
        elif line.startswith("model_batch_rows_bucket") and 'le="1.0"' in line:
            one += float(line.rsplit(" ", 1)[1])
    return count - one


def test_a_pyfunc_model_scores_each_request_alone_and_a_bad_one_fails_alone(
    mlflow_server: MlflowServer, start_service: Callable[..., RunningService], tmp_path: Path
) -> None:
    """pyfunc models are scored as `mlflow models serve` scores them, one request per call (merging is for
    native scikit-learn: tests/compat/test_model_errors.py shows merged calls there); one bad request among
    concurrent ones fails alone with 500 (its signature accepted the input)."""
    trace = tmp_path / "calls.txt"
    name = log_picky_model(mlflow_server.uri)
    service = start_service(
        {
            "MODEL_URI": f"models:/{name}@Production",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "PICKY_MODEL_TRACE": str(trace),
        }
    )
    before = trace.read_text().splitlines() if trace.exists() else []  # the warm-up's call
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda x: _post(service, x), [*GOOD, BAD]))
    for x, response in zip(GOOD, responses, strict=False):
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": [2.0 * x]}
    assert responses[-1].status_code == 500, responses[-1].text
    assert responses[-1].json()["error_code"] == "INTERNAL_ERROR"
    assert "negative x" in responses[-1].json()["message"]
    calls = trace.read_text().splitlines()[len(before) :]
    assert sorted(calls) == sorted(["rows=1 ok"] * len(GOOD) + ["rows=1 raised"]), calls
    assert _merged_calls(service) == 0


@pytest.mark.parametrize(
    ("estimator", "status"),
    [(HistGradientBoostingClassifier(max_iter=20), 200), (LogisticRegression(max_iter=5000), 400)],
    ids=["hist-gradient-boosting-takes-nan", "logistic-regression-refuses-nan"],
)
def test_missing_values_are_accepted_only_where_the_estimator_allows_them(
    mlflow_server: MlflowServer,
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
    estimator: object,
    status: int,
) -> None:
    frame = demo_model.frame.drop(columns=["size_band"])
    name = f"nan-{uuid.uuid4().hex[:8]}"
    train_and_register(name, frame, "target", estimator=estimator, alias="Production", tracking_uri=mlflow_server.uri)  # type: ignore[arg-type]
    service = start_service({"MODEL_URI": f"models:/{name}@Production", "MLFLOW_TRACKING_URI": mlflow_server.uri})
    rows = frame.drop(columns="target").head(2)
    split = json.loads(rows.to_json(orient="split", index=False))
    split["data"][1][0] = None  # a missing value in the first column of the second row

    response = httpx.post(f"{service.url}/invocations", json={"dataframe_split": split}, timeout=60)

    assert response.status_code == status, response.text
    if status == 200:
        assert len(response.json()["predictions"]) == 2
    else:
        assert response.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")
        assert split["columns"][0] in response.json()["message"]
        assert "missing" in response.json()["message"]
