"""The MLflow records of a training run (SPEC "MLflow records"): dataset, reference rows, model, and how
it was trained (hyperparameters, code version, libraries: training/provenance.py), which the registered
version's description and tags point back to.

The drift job finds the reference from the alias: alias -> version -> run -> `reference/reference.parquet`,
and reads the label column's name from the run's `target` param.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow import MlflowClient
from mlflow.data.pandas_dataset import PandasDataset, from_pandas
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from training import provenance
from training.estimator import trusted_types
from training.requirements import pip_requirements

REFERENCE_DIR = "reference"
REFERENCE_FILE = "reference.parquet"
REFERENCE_MAX_ROWS = 100_000
REFERENCE_SEED = 0
INPUT_EXAMPLE_ROWS = 5


@contextmanager
def _quiet_mlflow_hints() -> Iterator[None]:
    """Silence two warnings that say nothing about this data: an ambiguous local source, and integer labels."""
    with warnings.catch_warnings():
        for message in ("The specified dataset source can be interpreted", "Hint: Inferred schema contains integer"):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def reference_sample(features: pd.DataFrame, max_rows: int = REFERENCE_MAX_ROWS) -> pd.DataFrame:
    """All rows when they fit, else `max_rows` sampled with a fixed seed (so reruns log the same sample)."""
    if len(features) <= max_rows:
        return features
    return features.sample(n=max_rows, random_state=REFERENCE_SEED).sort_index()


def log_reference(features: pd.DataFrame) -> None:
    """Log the training features (no target) as `reference/reference.parquet`."""
    _log_table(pa.Table.from_pandas(reference_sample(features), preserve_index=False), REFERENCE_FILE)


def log_reference_predictions(fitted: Any, features: pd.DataFrame, model_uri: str) -> None:
    """Log the model's predictions on the reference rows, in file order, as `reference/predictions.parquet`.

    The drift job compares captured predictions with these (drift/reference_predictions.py, which owns the
    format): logged here, not even a version's first drift check has to load the model.
    """
    from drift.reference_predictions import PREDICTIONS_FILE, as_series, predictions_table

    predictions = as_series(fitted.predict(reference_sample(features)))
    _log_table(predictions_table(predictions, model_uri), PREDICTIONS_FILE)


def _log_table(table: pa.Table, file_name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="reference-") as folder:
        path = Path(folder) / file_name
        pq.write_table(table, path)
        mlflow.log_artifact(str(path), artifact_path=REFERENCE_DIR)


DATASET_DIGEST_TAG = "aliasserve.dataset_digest"
DATASET_SOURCE_TAG = "aliasserve.dataset_source"
TRAINING_RUN_TAG = "aliasserve.training_run_id"


def log_dataset(frame: pd.DataFrame, target: str, source: str | None, name: str) -> PandasDataset:
    """`mlflow.log_input` of the training frame (metadata and schema; the rows live in the reference),
    and its digest and source as run tags, so runs can be searched by the data they were trained on."""
    with _quiet_mlflow_hints():
        dataset = from_pandas(frame, source=source, targets=target, name=name)  # type: ignore[arg-type]
        mlflow.log_input(dataset, context="training")
    mlflow.set_tags({DATASET_DIGEST_TAG: dataset.digest, DATASET_SOURCE_TAG: _source_text(dataset, source)})
    return dataset


def _source_text(dataset: PandasDataset, given: str | None) -> str:
    """Where the rows came from: the URI given, else what MLflow recorded (the code that made them)."""
    if given:
        return given
    return str(dataset.source.to_json())


def log_provenance(estimator: Any) -> provenance.CodeVersion:
    """Every hyperparameter of the (unfitted) estimator as params; code and library versions as tags."""
    mlflow.log_params(provenance.hyperparameters(estimator))
    code = provenance.code_version()
    mlflow.set_tags({**code.tags(), **provenance.library_versions()})
    return code


def describe_version(
    client: MlflowClient,
    name: str,
    version: str,
    run_id: str,
    dataset: PandasDataset,
    code: provenance.CodeVersion,
) -> None:
    """Point the registered version back at its run, data and code (description and tags)."""
    source = client.get_run(run_id).data.tags.get(DATASET_SOURCE_TAG, "")
    tags = {TRAINING_RUN_TAG: run_id, DATASET_DIGEST_TAG: dataset.digest, DATASET_SOURCE_TAG: source}
    if code.commit:
        tags[provenance.GIT_COMMIT_TAG] = code.commit
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    commit = code.commit or "unknown"
    client.update_model_version(
        name,
        version,
        description=(
            f"Trained by run {run_id} (runs:/{run_id}/; its params hold every hyperparameter) "
            f"from code {commit} ({code.source}) on dataset {dataset.name} digest {dataset.digest} "
            f"from {source}."
        ),
    )


def log_model(fitted: Any, features: pd.DataFrame, model_name: str) -> ModelInfo:
    """Log the sklearn flavor with signature and input example, and register it as a new version."""
    example = features.head(INPUT_EXAMPLE_ROWS)
    with _quiet_mlflow_hints():
        signature = infer_signature(features, fitted.predict(example))
    info: ModelInfo = mlflow.sklearn.log_model(
        fitted,
        name="model",
        signature=signature,
        input_example=example,
        registered_model_name=model_name,
        skops_trusted_types=trusted_types(fitted),
        pip_requirements=pip_requirements(fitted),
    )
    return info
