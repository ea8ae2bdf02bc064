"""A training run logs every record SPEC's "MLflow records" lists, registers a version and aliases it."""

from __future__ import annotations

import json
import subprocess
import uuid
from importlib import metadata
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from tests.processes import REPO, MlflowServer
from training.provenance import (
    CODE_DIRTY_TAG,
    CODE_SOURCE_TAG,
    COMMIT_VARIABLE,
    GIT_COMMIT_TAG,
    PARAM_PREFIX,
    CodeVersion,
    code_version,
    hyperparameters,
)
from training.records import DATASET_DIGEST_TAG, DATASET_SOURCE_TAG, TRAINING_RUN_TAG
from training.registry import CHALLENGER, PRODUCTION, version_by_alias
from training.train import DRIFT_RUN_TAG, TrainResult, train_and_register


@pytest.fixture(scope="module")
def trained(mlflow_server: MlflowServer, demo_frame: pd.DataFrame) -> TrainResult:
    """One training run shared by the tests below; they only read what it recorded."""
    name = f"training-records-{uuid.uuid4().hex[:10]}"
    return train_and_register(name, demo_frame, "target", tracking_uri=mlflow_server.uri, drift_run_id="d1")


def test_version_is_registered_from_the_run_and_aliased_challenger(client: MlflowClient, trained: TrainResult) -> None:
    version = client.get_model_version(trained.model_name, trained.version)

    assert version.run_id == trained.run_id
    assert version_by_alias(client, trained.model_name, CHALLENGER) == trained.version
    assert version_by_alias(client, trained.model_name, PRODUCTION) is None
    assert trained.promoted is False


def test_run_has_params_tags_and_gate_records(client: MlflowClient, trained: TrainResult) -> None:
    run = client.get_run(trained.run_id)

    assert run.data.params["target"] == "target"
    assert run.data.params["model_name"] == trained.model_name
    assert run.data.params["estimator"] == "Pipeline"
    assert run.data.params["final_estimator"] == "LogisticRegression"
    assert run.data.tags["aliasserve.role"] == "training"
    assert run.data.tags[DRIFT_RUN_TAG] == "d1"
    assert run.data.tags["gate.decision"] == "no_production"
    assert run.data.metrics["gate.challenger_score"] == pytest.approx(trained.gate.challenger_score)
    assert trained.gate.challenger_score > 0.9


def test_model_loads_as_sklearn_with_signature_and_input_example(
    client: MlflowClient, trained: TrainResult, demo_frame: pd.DataFrame, tmp_path: Path
) -> None:
    uri = f"models:/{trained.model_name}/{trained.version}"
    features = demo_frame.drop(columns=["target"])

    model = mlflow.sklearn.load_model(uri)
    local = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path))
    logged = Model.load(local)
    example = logged.load_input_example(local)

    assert model.score(features, demo_frame["target"]) > 0.9
    assert "sklearn" in logged.flavors
    assert logged.signature is not None
    assert logged.signature.inputs.input_names() == list(features.columns)
    assert len(logged.signature.inputs.input_names()) == 31
    assert {spec.name: spec.type.name for spec in logged.signature.inputs.inputs}["size_band"] == "string"
    assert isinstance(example, pd.DataFrame)
    assert list(example.columns) == list(features.columns)
    assert len(example) == 5


def test_reference_parquet_holds_the_features_without_the_target(
    client: MlflowClient, trained: TrainResult, demo_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = mlflow.artifacts.download_artifacts(
        run_id=trained.run_id, artifact_path="reference/reference.parquet", dst_path=str(tmp_path)
    )
    reference = pd.read_parquet(path)

    assert "target" not in reference.columns
    assert list(reference.columns) == [name for name in demo_frame.columns if name != "target"]
    assert len(reference) == len(demo_frame) <= 100_000
    assert reference["size_band"].dtype == "str"


def test_reference_predictions_are_the_versions_own_on_the_reference_rows(
    client: MlflowClient, trained: TrainResult, demo_frame: pd.DataFrame
) -> None:
    """What the drift job reads instead of loading the model: one prediction per reference row, in order."""
    from drift.reference_predictions import read_predictions

    version = client.get_model_version(trained.model_name, trained.version)
    stored = read_predictions(client, version)
    model = mlflow.sklearn.load_model(f"models:/{trained.model_name}/{trained.version}")
    features = demo_frame.drop(columns="target")

    assert stored is not None
    assert stored.tolist() == model.predict(features).tolist()


def test_training_dataset_is_logged_as_an_input(client: MlflowClient, trained: TrainResult) -> None:
    run_inputs = client.get_run(trained.run_id).inputs
    assert run_inputs is not None
    inputs = run_inputs.dataset_inputs

    assert len(inputs) == 1
    dataset, tags = inputs[0].dataset, {tag.key: tag.value for tag in inputs[0].tags}
    assert dataset.name == trained.model_name
    schema = json.loads(str(dataset.schema))
    assert {"target", "size_band"} <= {column["name"] for column in schema["mlflow_colspec"]}
    assert tags["mlflow.data.context"] == "training"


def test_run_logs_every_hyperparameter_of_the_nested_pipeline(client: MlflowClient, trained: TrainResult) -> None:
    params = client.get_run(trained.run_id).data.params
    model = mlflow.sklearn.load_model(f"models:/{trained.model_name}/{trained.version}")
    expected = model.get_params(deep=True)

    logged = {key.removeprefix(PARAM_PREFIX) for key in params if key.startswith(PARAM_PREFIX)}
    assert logged == set(expected)
    assert params["estimator.model__C"] == str(expected["model__C"])
    assert params["estimator.model__max_iter"] == str(expected["model__max_iter"])
    assert params["estimator.preprocess__numeric__with_mean"] == "True"
    assert params["estimator.model"] == "LogisticRegression"
    assert params["estimator.steps"] == "[('preprocess', ColumnTransformer), ('model', LogisticRegression)]"


def test_run_records_the_commit_the_data_and_the_libraries(client: MlflowClient, trained: TrainResult) -> None:
    run = client.get_run(trained.run_id)
    tags = run.data.tags
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert run.inputs is not None
    dataset = run.inputs.dataset_inputs[0].dataset

    assert tags[GIT_COMMIT_TAG] == head.stdout.strip()
    assert tags[CODE_SOURCE_TAG] == "git checkout"
    assert tags[CODE_DIRTY_TAG] in ("true", "false")
    assert tags[DATASET_DIGEST_TAG] == dataset.digest
    assert tags[DATASET_SOURCE_TAG] == dataset.source
    for library in ("scikit-learn", "mlflow", "numpy", "pandas"):
        assert tags[f"aliasserve.library.{library}"] == metadata.version(library)


def test_the_version_points_back_to_its_run_commit_and_data(client: MlflowClient, trained: TrainResult) -> None:
    version = client.get_model_version(trained.model_name, trained.version)
    run_tags = client.get_run(trained.run_id).data.tags

    assert version.tags[TRAINING_RUN_TAG] == trained.run_id
    assert version.tags[GIT_COMMIT_TAG] == run_tags[GIT_COMMIT_TAG]
    assert version.tags[DATASET_DIGEST_TAG] == run_tags[DATASET_DIGEST_TAG]
    assert version.tags[DATASET_SOURCE_TAG] == run_tags[DATASET_SOURCE_TAG]
    for part in (trained.run_id, run_tags[GIT_COMMIT_TAG], run_tags[DATASET_DIGEST_TAG]):
        assert part in version.description


def test_outside_a_checkout_the_commit_baked_into_the_image_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(COMMIT_VARIABLE, "0123abc")
    assert code_version(tmp_path) == CodeVersion("0123abc", "image build argument")
    monkeypatch.delenv(COMMIT_VARIABLE)
    assert code_version(tmp_path) == CodeVersion(None, "unknown")


def test_values_past_mlflows_limit_are_truncated_and_accepted(client: MlflowClient) -> None:
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder(categories=[[f"category-{i}" for i in range(2000)]])
    params = hyperparameters(encoder)
    with mlflow.start_run() as run:
        mlflow.log_params(params)

    logged = client.get_run(run.info.run_id).data.params["estimator.categories"]
    assert len(logged) == 6000
    assert logged.startswith("[['category-0', 'category-1'")
    assert logged.endswith("...[truncated]")
