"""The served version's predictions on its reference rows: the reference side of prediction drift.

Both inputs are immutable (a registered version's model and its run's reference rows), so the
predictions are made once per version and kept beside the reference as `reference/predictions.parquet`
in the version's training run: one column `prediction`, one row per reference row in file order, and
the model they were made with (the version's source, `models:/m-<id>`) in the schema metadata. A file
made with another model or with another row count is ignored.

When the file is missing, the first check of the version loads the model and predicts on a thread
(`predict_reference`) while the main thread reads the reference and the capture, then logs the file
(`save_predictions`, best effort) so later checks skip the model: loading it costs 2-3 s of CPU, mostly
importing the flavor (skops and scikit-learn for this project's models), against milliseconds to read
the file. A training pipeline that logs the file itself spares the first check too.
"""

from __future__ import annotations

import logging
import tempfile
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from drift.columns import subsample
from drift.reference import one_line, version_uri

logger = logging.getLogger(__name__)

PREDICTIONS_DIR = "reference"
PREDICTIONS_FILE = "predictions.parquet"
PREDICTIONS_ARTIFACT = f"{PREDICTIONS_DIR}/{PREDICTIONS_FILE}"
COLUMN = "prediction"
MODEL_KEY = b"aliasserve.model"


@dataclass(frozen=True)
class ReferenceSide:
    """The reference side of one check's prediction drift: stored predictions, or the thread making them."""

    version: ModelVersion
    stored: pd.Series | None
    making: Future[pd.Series | str] | None
    max_rows: int
    seed: int

    def sampled(self) -> pd.Series | str:
        """The predictions of the sampled reference rows (same seed and cap), or why there are none."""
        if self.stored is not None:
            predictions = self.stored
        elif self.making is not None:
            predictions = self.making.result()
        else:
            return "no reference predictions"
        return predictions if isinstance(predictions, str) else subsample(predictions, self.max_rows, self.seed)

    @property
    def made(self) -> pd.Series | None:
        """Predictions this check made, to store for later checks (None when read or not made)."""
        if self.making is None or not self.making.done() or self.making.exception() is not None:
            return None
        made = self.making.result()
        return made if isinstance(made, pd.Series) else None


def as_series(predictions: object) -> pd.Series:
    """A pyfunc model's output as one Series: the first column of a frame or of a 2-D array."""
    if isinstance(predictions, pd.DataFrame):
        return predictions.iloc[:, 0].reset_index(drop=True)
    array = np.asarray(predictions)
    return pd.Series(array[:, 0] if array.ndim == 2 else array.ravel())


def read_predictions(client: MlflowClient, version: ModelVersion) -> pd.Series | None:
    """The stored predictions of this version's model on its reference rows, or None.

    The caller checks that there is one per reference row.
    """
    if not version.run_id or not version.source:
        return None
    with tempfile.TemporaryDirectory(prefix="drift-predictions-") as folder:
        try:
            path = client.download_artifacts(version.run_id, PREDICTIONS_ARTIFACT, folder)
            table = pq.read_table(path)
        except (MlflowException, OSError, pa.ArrowException):
            return None
    made_with = (table.schema.metadata or {}).get(MODEL_KEY, b"").decode()
    if made_with != version.source or COLUMN not in table.column_names:
        logger.info("stored reference predictions are for another model; predicting again")
        return None
    logger.info("reference predictions: read from %s of run %s", PREDICTIONS_ARTIFACT, version.run_id)
    return table.column(COLUMN).to_pandas()


def predict_reference(version: ModelVersion, reference: Future[pd.DataFrame], tracking_uri: str) -> pd.Series | str:
    """The version's predictions on its reference rows (set in `reference` by the caller), or why not.

    The model is downloaded with an explicit tracking URI and loaded from the local copy: the job never
    sets MLflow's global URI, whose tracer reset alone imports for 0.3 s. Requirement checks are
    skipped (`suppress_warnings`): they read the metadata of every installed package (about 0.8 s), and
    the predictor that serves this version warns about mismatches already.
    """
    import mlflow.artifacts
    import mlflow.pyfunc

    uri = version_uri(version)
    try:
        # MLflow resolves a `models:/` URI against its global registry URI, whatever registry_uri is passed
        # (mlflow 3.17, ModelsArtifactRepository._get_model_uri_infos): ask this registry where the version is.
        client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
        location = client.get_model_version_download_uri(version.name, version.version)
        with tempfile.TemporaryDirectory(prefix="drift-model-") as folder:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=folder, tracking_uri=tracking_uri
            )
            model = mlflow.pyfunc.load_model(local, suppress_warnings=True)
        return as_series(model.predict(reference.result()))
    except Exception as exc:  # a failing user model only skips this section
        logger.warning("prediction drift skipped: cannot predict with %s: %s", uri, one_line(exc))
        return f"cannot predict with {uri}: {one_line(exc)}"


def predictions_table(predictions: pd.Series, model_source: str) -> pa.Table:
    """The stored form: column `prediction`, and the model (`models:/m-<id>`) in the schema metadata.

    A training run can log `pq.write_table(predictions_table(...))` as `reference/predictions.parquet`
    itself, with the predictions of the logged model on the reference rows in file order.
    """
    table = pa.table({COLUMN: pa.Array.from_pandas(predictions)})
    return table.replace_schema_metadata({MODEL_KEY: model_source.encode()})


def save_predictions(client: MlflowClient, version: ModelVersion, predictions: pd.Series) -> None:
    """Log the predictions to the version's run for later checks; a refusal only costs them the model load."""
    if not version.run_id or not version.source:
        return
    table = predictions_table(predictions, version.source)
    with tempfile.TemporaryDirectory(prefix="drift-predictions-") as folder:
        path = Path(folder) / PREDICTIONS_FILE
        try:
            pq.write_table(table, path)
            client.log_artifact(version.run_id, str(path), PREDICTIONS_DIR)
        except (MlflowException, OSError, pa.ArrowException) as exc:
            logger.warning("could not store the reference predictions in run %s: %s", version.run_id, one_line(exc))
            return
    logger.info("stored the reference predictions as %s of run %s", PREDICTIONS_ARTIFACT, version.run_id)
