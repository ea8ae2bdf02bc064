"""V2 complete for HTTP: the binary tensor data extension (tritonclient's default), BYTES, tensor-spec models."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton

from tests.conftest import RegisteredModel
from tests.processes import MlflowServer, RunningService, serving
from tests.service.payloads import features
from tests.service.tensor_models import TensorModel, register_array_classifier, register_text_and_numbers


def _client(service: RunningService) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=service.url.removeprefix("http://"))


def _column_inputs(rows: pd.DataFrame, binary: bool) -> list[triton.InferInput]:
    tensors = []
    for column in rows.columns:
        values = rows[column].to_numpy()
        datatype, array = (
            ("FP64", values.astype(np.float64)) if values.dtype.kind == "f" else ("BYTES", values.astype(object))
        )
        tensor = triton.InferInput(column, [len(rows)], datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    return tensors


def _invocations(service: RunningService, rows: pd.DataFrame) -> list[int]:
    response = httpx.post(f"{service.url}/invocations", json={"dataframe_records": rows.to_dict(orient="records")})
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def _is_binary(result: triton.InferResult, name: str) -> bool:
    return "binary_data_size" in (result.get_output(name).get("parameters") or {})


def test_server_metadata_lists_the_binary_extension(demo_service: RunningService) -> None:
    assert "binary_tensor_data" in _client(demo_service).get_server_metadata()["extensions"]


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False, None])
def test_tritonclient_binary_and_json_on_the_demo_model(
    binary_in: bool, binary_out: bool | None, demo_model: RegisteredModel, demo_service: RunningService
) -> None:
    rows = features(demo_model.frame, n=9)  # 30 FP64 columns and size_band, a BYTES column
    outputs = None if binary_out is None else [triton.InferRequestedOutput("predict", binary_data=binary_out)]
    result = _client(demo_service).infer(demo_model.name, _column_inputs(rows, binary_in), outputs=outputs)
    assert result.as_numpy("predict").tolist() == _invocations(demo_service, rows)
    assert _is_binary(result, "predict") is (binary_out is not False)  # tritonclient asks binary when none named


@pytest.mark.parametrize("binary", [True, False])
def test_requested_output_predict_proba(
    binary: bool, demo_model: RegisteredModel, demo_service: RunningService
) -> None:
    rows = features(demo_model.frame, n=4)
    outputs = [triton.InferRequestedOutput("predict_proba", binary_data=binary)]
    result = _client(demo_service).infer(demo_model.name, _column_inputs(rows, True), outputs=outputs)
    proba = result.as_numpy("predict_proba")
    assert proba.shape == (4, 2)
    assert result.as_numpy("predict") is None
    assert np.argmax(proba, axis=1).tolist() == _invocations(demo_service, rows)
    assert json.loads(result.get_output("predict_proba")["parameters"]["classes"]) == [0, 1]


@dataclass(frozen=True)
class Served:
    model: TensorModel
    service: RunningService


def _serve(model: TensorModel, server: MlflowServer, factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {"MODEL_URI": model.uri, "MLFLOW_TRACKING_URI": server.uri, "RELOAD_INTERVAL_S": "0", "CAPTURE_URI": ""}
    with serving(env, Path(factory.mktemp("tensor-service"))) as service:
        yield Served(model, service)


@pytest.fixture(scope="module")
def array_model(
    mlflow_server: MlflowServer, demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    yield from _serve(register_array_classifier(mlflow_server.uri, demo_model.frame), mlflow_server, tmp_path_factory)


@pytest.mark.parametrize("binary", [True, False])
def test_tensor_spec_model_takes_one_array(binary: bool, array_model: Served, demo_model: RegisteredModel) -> None:
    x = demo_model.frame.drop(columns="target").iloc[:7, :4].to_numpy(dtype=np.float64)
    tensor = triton.InferInput("input", list(x.shape), "FP64")
    tensor.set_data_from_numpy(x, binary_data=binary)
    outputs = [triton.InferRequestedOutput("predict", binary_data=binary)]
    result = _client(array_model.service).infer(array_model.model.name, [tensor], outputs=outputs)
    assert result.as_numpy("predict").tolist() == array_model.model.estimator.predict(x).tolist()
    metadata = _client(array_model.service).get_model_metadata(array_model.model.name)
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]


def test_tensor_spec_shape_and_dtype_are_enforced(array_model: Served) -> None:
    url = f"{array_model.service.url}/v2/models/{array_model.model.name}/infer"
    three = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]}
    response = httpx.post(url, json=three)
    assert response.status_code == 400
    assert "input 'x'" in response.json()["error"]
    assert "[-1, 4]" in response.json()["error"]
    text = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]}
    response = httpx.post(url, json=text)
    assert response.status_code == 400
    assert "input 'x'" in response.json()["error"]
    assert "float64" in response.json()["error"]
    as_float32 = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [10.0, 20.0, 70.0, 500.0]}]}
    assert httpx.post(url, json=as_float32).status_code == 200  # float32 -> float64 is a safe cast
    empty = {"inputs": [{"name": "x", "shape": [0, 4], "datatype": "FP64", "data": []}]}
    response = httpx.post(url, json=empty)
    assert response.status_code == 400
    assert "no rows" in response.json()["error"]


@pytest.fixture(scope="module")
def text_model(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(register_text_and_numbers(mlflow_server.uri), mlflow_server, tmp_path_factory)


@pytest.mark.parametrize("binary", [True, False])
def test_named_tensors_and_bytes_in_and_out(binary: bool, text_model: Served) -> None:
    text = np.array(["héllo", "", "three words here"], dtype=object)
    x = np.array([[1.5, 2.0], [0.0, -1.0], [3.25, 4.0]], dtype=np.float32)
    inputs = [triton.InferInput("text", [3], "BYTES"), triton.InferInput("x", [3, 2], "FP32")]
    inputs[0].set_data_from_numpy(text, binary_data=binary)
    inputs[1].set_data_from_numpy(x, binary_data=binary)
    outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("length", "total", "upper")]
    result = _client(text_model.service).infer(text_model.model.name, inputs, outputs=outputs)
    assert result.as_numpy("length").tolist() == [5, 0, 16]
    assert result.as_numpy("total").dtype == np.float32
    assert result.as_numpy("total").tolist() == [3.5, -1.0, 7.25]
    upper = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("upper").tolist()]
    assert upper == ["HÉLLO", "", "THREE WORDS HERE"]
    assert {o["datatype"] for o in result.get_response()["outputs"]} == {"INT64", "FP32", "BYTES"}
    assert all(_is_binary(result, n) is binary for n in ("length", "total", "upper"))


def test_named_tensors_must_match_the_signature(text_model: Served) -> None:
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}
    response = httpx.post(f"{text_model.service.url}/v2/models/{text_model.model.name}/infer", json=body)
    assert response.status_code == 400
    assert "missing ['x']" in response.json()["error"]


def _binary_body(tensors: list[dict[str, object]], raw: bytes) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({"inputs": tensors}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def _bad(service: RunningService, model: str, body: bytes, headers: dict[str, str]) -> str:
    response = httpx.post(f"{service.url}/v2/models/{model}/infer", content=body, headers=headers)
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


def test_bad_binary_requests_are_400_naming_the_input(
    demo_model: RegisteredModel, demo_service: RunningService
) -> None:
    name = demo_model.name
    two_doubles = np.array([1.0, 2.0]).tobytes()
    tensor = {"name": "mean_radius", "shape": [2], "datatype": "FP64", "parameters": {"binary_data_size": 16}}
    body, _headers = _binary_body([tensor], two_doubles)
    assert "past the end of the body" in _bad(demo_service, name, body, {"Inference-Header-Content-Length": "99999"})
    assert "byte count" in _bad(demo_service, name, body, {"Inference-Header-Content-Length": "twelve"})
    short = {**tensor, "parameters": {"binary_data_size": 24}}
    assert "input 'mean_radius'" in _bad(demo_service, name, *_binary_body([short], two_doubles))
    wrong_shape = {**tensor, "shape": [3], "parameters": {"binary_data_size": 16}}
    message = _bad(demo_service, name, *_binary_body([wrong_shape], two_doubles))
    assert "input 'mean_radius'" in message
    assert "needs 24" in message
    message = _bad(demo_service, name, *_binary_body([{**tensor, "parameters": {"binary_data_size": 8}}], two_doubles))
    assert "8 bytes after" in message or "needs 16" in message
    text = {"name": "size_band", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 9}}
    one_string = struct.pack("<I", 5) + b"small"  # 9 bytes holding 1 element where the shape says 2
    assert "input 'size_band'" in _bad(demo_service, name, *_binary_body([text], one_string))
    overrun = struct.pack("<I", 50) + b"small"
    assert "input 'size_band'" in _bad(demo_service, name, *_binary_body([text], overrun))
    no_header = json.dumps({"inputs": [tensor]}).encode()
    assert "Inference-Header-Content-Length" in _bad(demo_service, name, no_header, {})


def test_unknown_requested_output_is_400(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=2)
    body = {
        "inputs": [
            {"name": c, "shape": [2], "datatype": "FP64" if c != "size_band" else "BYTES", "data": rows[c].tolist()}
            for c in rows.columns
        ],
        "outputs": [{"name": "nope"}],
    }
    response = httpx.post(f"{demo_service.url}/v2/models/{demo_model.name}/infer", json=body)
    assert response.status_code == 400
    assert "nope" in response.json()["error"]
