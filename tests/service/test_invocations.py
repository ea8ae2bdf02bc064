"""`/invocations` answers exactly what `mlflow models serve` answers, for every input format."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.conftest import RegisteredModel
from tests.processes import MlflowModelsServe, RunningService
from tests.service.payloads import JSON, all_formats, features


@pytest.mark.parametrize(
    "fmt",
    [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs-columns",
        "csv",
        "parquet",
        "reordered-columns",
        "json-charset",
    ],
)
def test_same_predictions_as_mlflow_models_serve(
    fmt: str, demo_model: RegisteredModel, demo_service: RunningService, peer: MlflowModelsServe
) -> None:
    body, content_type = all_formats(features(demo_model.frame, n=25))[fmt]
    ours = httpx.post(f"{demo_service.url}/invocations", content=body, headers={"Content-Type": content_type})
    theirs = httpx.post(f"{peer.url}/invocations", content=body, headers={"Content-Type": content_type})
    assert theirs.status_code == 200, theirs.text
    assert ours.status_code == 200, ours.text
    assert ours.json() == theirs.json()
    assert len(ours.json()["predictions"]) == 25


def test_prediction_headers_and_request_id_echo(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    body, content_type = all_formats(features(demo_model.frame, n=2))["dataframe_split"]
    response = httpx.post(
        f"{demo_service.url}/invocations",
        content=body,
        headers={"Content-Type": content_type, "X-Request-ID": "abc-123"},
    )
    assert response.status_code == 200
    assert response.headers["x-model-name"] == demo_model.name
    assert response.headers["x-model-version"] == demo_model.version
    assert response.headers["x-request-id"] == "abc-123"
    generated = httpx.post(f"{demo_service.url}/invocations", content=body, headers={"Content-Type": content_type})
    assert len(generated.headers["x-request-id"]) == 32


def test_probabilities_on_request(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=4)
    plain = httpx.post(
        f"{demo_service.url}/invocations", json={"dataframe_records": rows.to_dict(orient="records")}
    ).json()
    response = httpx.post(
        f"{demo_service.url}/invocations",
        json={"dataframe_records": rows.to_dict(orient="records"), "params": {"predict_method": "predict_proba"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["classes"] == [0, 1]
    probabilities = np.array(body["predictions"])
    assert probabilities.shape == (4, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert np.argmax(probabilities, axis=1).tolist() == plain["predictions"]


def test_extra_columns_are_ignored_and_named(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=3)
    rows["customer_id"] = ["a", "b", "c"]
    response = httpx.post(f"{demo_service.url}/invocations", json={"dataframe_records": rows.to_dict(orient="records")})
    assert response.status_code == 200, response.text
    assert response.headers["x-ignored-columns"] == "customer_id"


def test_integers_in_double_columns_are_accepted(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=2)
    records = rows.to_dict(orient="records")
    records[0]["mean_radius"] = 14  # a JSON integer where the signature says double
    response = httpx.post(f"{demo_service.url}/invocations", json={"dataframe_records": records})
    assert response.status_code == 200, response.text


def test_positional_rows_follow_the_signature_order(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    rows = features(demo_model.frame, n=3)
    by_name = httpx.post(f"{demo_service.url}/invocations", json={"dataframe_records": rows.to_dict(orient="records")})
    positional = httpx.post(f"{demo_service.url}/invocations", json={"inputs": rows.values.tolist()})
    assert positional.status_code == 200, positional.text
    assert positional.json() == by_name.json()


def test_json_content_type_is_required(demo_service: RunningService) -> None:
    response = httpx.post(f"{demo_service.url}/invocations", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "text/plain" in response.json()["message"]
    assert JSON in response.json()["message"]
