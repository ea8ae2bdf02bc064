"""The stored reference predictions against a real MLflow server: kept per model, ignored for another."""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from drift.reference_predictions import ReferenceSide, predict_reference, read_predictions, save_predictions
from tests.conftest import RegisteredModel
from tests.helpers import free_port
from tests.processes import MlflowServer


def _version(client: MlflowClient, source: str) -> ModelVersion:
    """A model version record pointing at a fresh run (only its run id and source matter here)."""
    experiment = client.create_experiment(f"predictions-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment).info.run_id
    return ModelVersion("m", "1", 0, source=source, run_id=run_id)


@pytest.mark.parametrize(
    "predictions",
    [pd.Series([0, 1, 1, 0]), pd.Series([0.25, 0.5, None, 1.0]), pd.Series(["a", "b", None, "a"], dtype="str")],
    ids=["labels", "scores", "text"],
)
def test_predictions_stored_for_a_model_come_back_for_that_model_only(
    mlflow_server: MlflowServer, predictions: pd.Series
) -> None:
    client = MlflowClient(mlflow_server.uri)
    version = _version(client, "models:/m-one")
    assert read_predictions(client, version) is None  # nothing stored yet
    save_predictions(client, version, predictions)
    stored = read_predictions(client, version)
    assert stored is not None
    pd.testing.assert_series_equal(stored, predictions, check_names=False)
    assert read_predictions(client, ModelVersion("m", "2", 0, source="models:/m-two", run_id=version.run_id)) is None


def test_the_sampled_side_takes_the_same_rows_as_the_sampled_reference(mlflow_server: MlflowServer) -> None:
    client = MlflowClient(mlflow_server.uri)
    version = _version(client, "models:/m-three")
    predictions = pd.Series(range(1_000))
    side = ReferenceSide(version, predictions, None, max_rows=100, seed=7)
    sampled = side.sampled()
    assert not isinstance(sampled, str)
    assert len(sampled) == 100
    assert sampled.is_monotonic_increasing  # the rows keep their order, as `subsample` keeps the reference's
    assert side.made is None  # read, not made: nothing to store


def test_a_model_that_cannot_load_gives_a_reason_not_an_error(
    demo_model: RegisteredModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever goes wrong, MLflow's own retries (minutes, for a refused connection) are not the point here.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(demo_model.tracking_uri)
    missing = ModelVersion(demo_model.name, "999", 0, source="models:/m-missing", run_id=demo_model.run_id)
    rows: Future[pd.DataFrame] = Future()
    rows.set_result(demo_model.frame.drop(columns=["target"]))
    outcome = predict_reference(missing, rows, client.tracking_uri)
    assert isinstance(outcome, str)
    assert outcome.startswith(f"cannot predict with models:/{demo_model.name}/999")


def test_a_version_without_stored_predictions_is_loaded_and_predicts_its_reference(
    demo_model: RegisteredModel, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The path of a version trained elsewhere: the model itself predicts the reference rows, from the
    registry it is given even when MLflow's global registry URI points elsewhere (here: nowhere)."""
    import mlflow.artifacts
    import mlflow.sklearn
    from mlflow.tracking._model_registry import utils as registry_utils

    client = MlflowClient(demo_model.tracking_uri, registry_uri=demo_model.tracking_uri)
    version = client.get_model_version(demo_model.name, demo_model.version)
    monkeypatch.setattr(registry_utils, "_registry_uri", f"http://127.0.0.1:{free_port()}")
    features = demo_model.frame.drop(columns=["target"])
    rows: Future[pd.DataFrame] = Future()
    rows.set_result(features)
    outcome = predict_reference(version, rows, client.tracking_uri)
    assert not isinstance(outcome, str), outcome
    # Other tests in this process may have left MLflow's global URIs anywhere: load from the location itself.
    location = client.get_model_version_download_uri(demo_model.name, demo_model.version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=location, dst_path=str(tmp_path), tracking_uri=demo_model.tracking_uri
    )
    expected = mlflow.sklearn.load_model(local).predict(features)
    assert outcome.tolist() == expected.tolist()
