"""Compiled models through real service processes: same answers with COMPILE on and off, and why not compiled."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression

from tests.conftest import RegisteredModel
from tests.processes import MlflowServer, RunningService
from tests.service.compiled_models import disagreeing_frame, register
from tests.service.payloads import all_formats, features

StartService = Callable[..., RunningService]


def _post(service: RunningService, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(f"{service.url}/invocations", content=body, headers={"Content-Type": content_type}, timeout=30)


def _metric_line(service: RunningService, prefix: str) -> list[str]:
    text = httpx.get(f"{service.url}/metrics").text
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_answers_are_equal_with_compile_auto_and_off(demo_model: RegisteredModel, start_service: StartService) -> None:
    """The demo pipeline (scaler and one-hot encoder): compiled on one service, native on the other."""
    compiled = start_service(demo_model.service_env(COMPILE="auto"))
    native = start_service(demo_model.service_env(COMPILE="off"))

    compiled_info = httpx.get(f"{compiled.url}/model").json()
    assert compiled_info["runtime"] == "onnxruntime"
    assert compiled_info["compilation"]["result"] == "compiled"
    assert compiled_info["compilation"]["labels_equal"] is True
    assert compiled_info["compilation"]["rows_checked"] >= len(demo_model.frame)
    assert compiled_info["compilation"]["max_abs_diff"] <= 1e-5
    native_info = httpx.get(f"{native.url}/model").json()
    assert native_info["runtime"] == "sklearn"
    assert native_info["compilation"] is None

    rows = features(demo_model.frame, n=40)
    for name, (body, content_type) in all_formats(rows).items():
        got, expected = _post(compiled, body, content_type), _post(native, body, content_type)
        assert got.status_code == expected.status_code == 200, (name, got.text)
        assert got.json() == expected.json(), name
        assert got.headers["X-Model-Version"] == expected.headers["X-Model-Version"]

    split = rows.to_json(orient="split", index=False)
    proba_body = f'{{"dataframe_split": {split}, "params": {{"predict_method": "predict_proba"}}}}'.encode()
    got, expected = _post(compiled, proba_body, "application/json"), _post(native, proba_body, "application/json")
    assert got.status_code == expected.status_code == 200
    np.testing.assert_allclose(got.json()["predictions"], expected.json()["predictions"], atol=1e-5)

    bad = b'{"dataframe_split": {"columns": ["mean_radius"], "data": [["wide"]]}}'
    assert _post(compiled, bad, "application/json").json() == _post(native, bad, "application/json").json()

    info_line = f'model_info{{alias="Production",model="{demo_model.name}",run_id="{demo_model.run_id}",runtime="onnxruntime",version="{demo_model.version}"}} 1.0'
    assert info_line in _metric_line(compiled, "model_info")
    assert f'model_compile_total{{model="{demo_model.name}",result="compiled"}} 1.0' in _metric_line(
        compiled, "model_compile_total"
    )
    assert _metric_line(native, "model_compile_total{") == []


def test_a_disagreeing_model_is_served_natively_and_says_why(
    mlflow_server: MlflowServer, start_service: StartService
) -> None:
    frame = disagreeing_frame()
    model = register(
        mlflow_server, f"disagree-http-{uuid.uuid4().hex[:6]}", HistGradientBoostingClassifier(max_iter=5), frame
    )
    service = start_service(model.service_env())

    info = httpx.get(f"{service.url}/model").json()
    assert info["runtime"] == "sklearn"
    assert info["compilation"]["result"] == "disagreed"
    assert info["compilation"]["labels_equal"] is False
    assert "labels differ on" in info["compilation"]["reason"]
    assert f'model_compile_total{{model="{model.name}",result="disagreed"}} 1.0' in _metric_line(
        service, "model_compile_total"
    )
    assert service.log_text().count("serves natively (scikit-learn), not compiled: labels differ") == 1
    body = frame.drop(columns="target").to_json(orient="split", index=False)
    answer = _post(service, f'{{"dataframe_split": {body}}}'.encode(), "application/json")
    assert answer.status_code == 200
    assert answer.json()["predictions"] == frame["target"].tolist()  # the native model separates the classes


@pytest.fixture
def onnx_model(mlflow_server: MlflowServer) -> RegisteredModel:
    """A LinearRegression converted by skl2onnx and logged with MLflow's `onnx` flavor, aliased Production."""
    import onnx
    import onnxruntime
    from skl2onnx import to_onnx

    frame = load_diabetes(as_frame=True).frame
    x = frame.drop(columns="target").astype("float32")
    onnx_model = to_onnx(LinearRegression().fit(x, frame["target"]), x.to_numpy()[:1])
    mlflow.set_tracking_uri(mlflow_server.uri)
    name = f"onnx-{uuid.uuid4().hex[:6]}"
    with mlflow.start_run() as run:
        info = mlflow.onnx.log_model(
            onnx_model,
            name="model",
            input_example=x.head(5),
            registered_model_name=name,
            pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"],
        )
    MlflowClient(mlflow_server.uri).set_registered_model_alias(name, "Production", str(info.registered_model_version))
    return RegisteredModel(name, str(info.registered_model_version), run.info.run_id, x, mlflow_server.uri)


def test_the_onnx_flavor_is_served_on_onnx_runtime(onnx_model: RegisteredModel, start_service: StartService) -> None:
    service = start_service(onnx_model.service_env())
    info = httpx.get(f"{service.url}/model").json()
    assert info["flavor"] == "onnx"
    assert info["runtime"] == "onnxruntime"

    rows = onnx_model.frame.head(25)
    body = f'{{"dataframe_split": {rows.to_json(orient="split", index=False)}}}'.encode()
    answer = _post(service, body, "application/json")
    assert answer.status_code == 200, answer.text
    expected = mlflow.pyfunc.load_model(f"models:/{onnx_model.name}/{onnx_model.version}").predict(rows)
    assert isinstance(expected, pd.DataFrame)
    got = pd.DataFrame(answer.json()["predictions"])
    assert list(got.columns) == list(expected.columns)
    np.testing.assert_allclose(got.to_numpy(dtype=float), expected.to_numpy(dtype=float), rtol=1e-6)
    assert 'runtime="onnxruntime"' in "\n".join(_metric_line(service, "model_info"))


def test_a_linear_model_is_served_on_its_affine_map(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: StartService
) -> None:
    """A scaled logistic regression on numbers: runtime `linear`, every answer as the native model's, each row
    alone (the Python-float path) as in a batch (numpy), refusals alike."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = demo_model.frame.drop(columns=["size_band"])
    model = register(
        mlflow_server,
        f"linear-http-{uuid.uuid4().hex[:6]}",
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        frame,
    )
    compiled = start_service(model.service_env(COMPILE="auto"))
    native = start_service(model.service_env(COMPILE="off"))
    info = httpx.get(f"{compiled.url}/model").json()
    assert info["runtime"] == "linear"
    assert info["compilation"]["runtime"] == "linear"
    assert info["compilation"]["labels_equal"] is True
    assert info["compilation"]["max_abs_diff"] <= 1e-9  # float64 throughout, as scikit-learn computes
    assert 'runtime="linear"' in "\n".join(_metric_line(compiled, "model_info"))

    rows = features(frame, n=40)
    for name, (body, content_type) in all_formats(rows).items():
        got, expected = _post(compiled, body, content_type), _post(native, body, content_type)
        assert got.status_code == expected.status_code == 200, (name, got.text)
        assert got.json() == expected.json(), name
    for i in range(len(rows)):  # one row a request: scored alone, in Python floats
        body = f'{{"dataframe_split": {rows.iloc[i : i + 1].to_json(orient="split", index=False)}}}'.encode()
        got, expected = _post(compiled, body, "application/json"), _post(native, body, "application/json")
        assert got.json() == expected.json(), i
        proba = body[:-1] + b', "params": {"predict_method": "predict_proba"}}'
        got, expected = _post(compiled, proba, "application/json"), _post(native, proba, "application/json")
        np.testing.assert_allclose(got.json()["predictions"], expected.json()["predictions"], rtol=0, atol=1e-9)

    for value in ("NaN", "Infinity"):  # refused as scikit-learn refuses them, through MLflow's input handling
        split = json.loads(rows.head(1).to_json(orient="split", index=False))
        split["data"][0][0] = "VALUE"
        body = json.dumps({"dataframe_split": split}).replace('"VALUE"', value).encode()
        got, expected = _post(compiled, body, "application/json"), _post(native, body, "application/json")
        assert expected.status_code == 400, (value, expected.text)
        assert got.status_code == expected.status_code, (value, got.text, expected.text)
        assert got.json() == expected.json(), value
