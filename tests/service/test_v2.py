"""The Open Inference Protocol, spoken by a real V2 client (tritonclient) and checked against /invocations."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton

from tests.conftest import RegisteredModel
from tests.processes import RunningService
from tests.service.payloads import features


def _client(service: RunningService) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=service.url.removeprefix("http://"))


def _inputs(rows: pd.DataFrame) -> list[triton.InferInput]:
    tensors = []
    for column in rows.columns:
        values = rows[column].to_numpy()
        if values.dtype.kind == "f":
            tensor = triton.InferInput(column, [len(rows)], "FP64")
            tensor.set_data_from_numpy(values.astype(np.float64), binary_data=False)
        else:
            tensor = triton.InferInput(column, [len(rows)], "BYTES")
            tensor.set_data_from_numpy(values.astype(object), binary_data=False)
        tensors.append(tensor)
    return tensors


def _invocations(service: RunningService, rows: pd.DataFrame) -> list[int]:
    response = httpx.post(f"{service.url}/invocations", json={"dataframe_records": rows.to_dict(orient="records")})
    return list(response.json()["predictions"])


def test_tritonclient_gets_the_same_predictions(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=12)
    client = _client(demo_service)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(demo_model.name)
    result = client.infer(demo_model.name, _inputs(rows), request_id="req-7")
    assert result.get_response()["id"] == "req-7"
    assert result.get_response()["model_version"] == demo_model.version
    assert result.as_numpy("predict").tolist() == _invocations(demo_service, rows)


def test_versioned_route_and_metadata(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=3)
    client = _client(demo_service)
    metadata = client.get_model_metadata(demo_model.name)
    assert metadata["versions"] == [demo_model.version]
    assert [i["name"] for i in metadata["inputs"]] == [c for c in demo_model.frame.columns if c != "target"]
    result = client.infer(demo_model.name, _inputs(rows), model_version=demo_model.version)
    assert result.as_numpy("predict").tolist() == _invocations(demo_service, rows)
    assert httpx.get(f"{demo_service.url}/v2").json()["name"] == "aliasserve"


def test_single_matrix_input_in_signature_order(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=2).drop(columns="size_band")
    body = {"inputs": [{"name": "x", "shape": [2, rows.shape[1]], "datatype": "FP64", "data": rows.values.tolist()}]}
    response = httpx.post(f"{demo_service.url}/v2/models/{demo_model.name}/infer", json=body)
    assert response.status_code == 400  # 30 numeric columns are not the 31 of the signature
    assert "31 columns" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"inputs": [{"name": "mean_radius", "shape": [3], "datatype": "FP64", "data": [1.0, 2.0]}]}, 400, ["needs 3"]),
        ({"inputs": [{"name": "mean_radius", "shape": [1], "datatype": "FP99", "data": [1.0]}]}, 400, ["datatype"]),
        ({"inputs": []}, 400, ["inputs"]),
        ({"inputs": [{"name": "a", "shape": [-1], "datatype": "FP64", "data": [1]}]}, 400, ["shape"]),
        ({"inputs": [{"name": "mean_radius", "shape": [1], "datatype": "FP64", "data": [1]}]}, 400, ["missing"]),
        ([1, 2], 400, ["object"]),
    ],
)
def test_v2_bad_requests(
    body: object, status: int, words: list[str], demo_model: RegisteredModel, demo_service: RunningService
) -> None:
    response = httpx.post(f"{demo_service.url}/v2/models/{demo_model.name}/infer", json=body)
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["error"]


def test_unknown_model_and_version_are_404(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    assert httpx.get(f"{demo_service.url}/v2/models/nope").status_code == 404
    response = httpx.post(
        f"{demo_service.url}/v2/models/{demo_model.name}/versions/999/infer",
        json={"inputs": [{"name": "mean_radius", "shape": [1], "datatype": "FP64", "data": [1]}]},
    )
    assert response.status_code == 404
    assert "999" in response.json()["error"]
