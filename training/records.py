"""The MLflow records of a training run (SPEC "MLflow records"): dataset, reference rows, model.

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
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

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


def log_dataset(frame: pd.DataFrame, target: str, source: str | None, name: str) -> None:
    """`mlflow.log_input` of the training frame (metadata and schema; the rows live in the reference)."""
    with _quiet_mlflow_hints():
        dataset = from_pandas(frame, source=source, targets=target, name=name)  # type: ignore[arg-type]
        mlflow.log_input(dataset, context="training")


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
