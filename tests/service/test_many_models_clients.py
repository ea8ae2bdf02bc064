"""Several models in one predictor, held to a client we did not write: `tritonclient.http` with its defaults.

The client's defaults are the binary tensor extension for inputs and outputs, one connection, its own
error type (`InferenceServerException`) built from the V2 `{"error": ...}` body. Two models served from a
`MODEL_URI` list, at different versions, so an answer from the wrong model shows in `model_version`.
Real parts: the session's MLflow server, `python -m service` on a free port.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.conftest import RegisteredModel
from tests.processes import MlflowServer, RunningService, serving
from tests.service.payloads import features
from tests.service.test_following import Versions, register_versions
from tests.service.test_v2_binary import _column_inputs


@pytest.fixture(scope="module")
def two_models(mlflow_server: MlflowServer, demo_model: RegisteredModel) -> tuple[Versions, Versions]:
    """`a` serves version 1, `b` version 2 (Production moved), so each model's answers name its own version."""
    a, b = register_versions(mlflow_server, demo_model, 1), register_versions(mlflow_server, demo_model, 2)
    b.move(b.versions[1])
    return a, b


@pytest.fixture(scope="module")
def two_model_service(
    two_models: tuple[Versions, Versions], mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    a, b = two_models
    env = {"MODEL_URI": f"{a.uri},{b.uri}", "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0"}
    with serving({**env, "CAPTURE_URI": ""}, tmp_path_factory.mktemp("two-models")) as service:
        yield service


def _client(service: RunningService) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=service.url.removeprefix("http://"))


def _inputs(rows: pd.DataFrame) -> list[triton.InferInput]:
    """One tensor a column, in the client's default encoding (binary, as `set_data_from_numpy` sets it)."""
    return _column_inputs(rows, binary=True)


def _invocations(service: RunningService, name: str, rows: pd.DataFrame) -> list[int]:
    body = {"dataframe_records": rows.to_dict(orient="records")}
    response = httpx.post(f"{service.url}/invocations/{name}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def test_tritonclient_defaults_reach_each_model_by_name(
    two_models: tuple[Versions, Versions], demo_model: RegisteredModel, two_model_service: RunningService
) -> None:
    rows = features(demo_model.frame, n=11)
    client = _client(two_model_service)
    assert client.is_server_ready()
    for model, version in ((two_models[0], "1"), (two_models[1], "2")):
        assert client.is_model_ready(model.name)
        assert client.is_model_ready(model.name, model_version=version)
        metadata = client.get_model_metadata(model.name)
        assert (metadata["name"], metadata["versions"]) == (model.name, [version])
        assert [i["name"] for i in metadata["inputs"]] == list(rows.columns)
        assert client.get_model_metadata(model.name, model_version=version) == metadata

        result = client.infer(model.name, _inputs(rows), request_id=f"req-{model.name}")
        response = result.get_response()
        assert (response["model_name"], response["model_version"], response["id"]) == (
            model.name,
            version,
            f"req-{model.name}",
        )
        assert "binary_data_size" in (result.get_output("predict").get("parameters") or {})  # the default held
        assert result.as_numpy("predict").tolist() == _invocations(two_model_service, model.name, rows)

        pinned = client.infer(model.name, _inputs(rows), model_version=version)
        assert pinned.get_response()["model_version"] == version


def test_tritonclient_on_a_name_not_served_raises_its_own_error_naming_it(
    two_models: tuple[Versions, Versions], demo_model: RegisteredModel, two_model_service: RunningService
) -> None:
    client = _client(two_model_service)
    assert client.is_model_ready("no-such-model") is False
    with pytest.raises(InferenceServerException) as metadata_error:
        client.get_model_metadata("no-such-model")
    assert metadata_error.value.status() == "404"
    assert "no-such-model" in metadata_error.value.message()

    with pytest.raises(InferenceServerException) as infer_error:
        client.infer("no-such-model", _inputs(features(demo_model.frame, n=2)))
    assert infer_error.value.status() == "404"
    assert "no-such-model" in infer_error.value.message()

    a, b = two_models
    with pytest.raises(InferenceServerException) as version_error:  # a's version 2 is b's, not a's
        client.infer(a.name, _inputs(features(demo_model.frame, n=2)), model_version="2")
    assert version_error.value.status() == "404"
    assert "version 2" in version_error.value.message()
    with pytest.raises(InferenceServerException) as version_metadata_error:
        client.get_model_metadata(a.name, model_version="2")
    assert version_metadata_error.value.status() == "404"
    assert "version 2" in version_metadata_error.value.message()
    assert client.is_model_ready(a.name, model_version="2") is False
    assert client.is_model_ready(b.name, model_version="2") is True
