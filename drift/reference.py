"""The reference of a served version: alias (or stage) -> version -> run -> `reference/reference.parquet`.

The training pipeline logs the training features (at most 100,000 rows, no label) as that artifact and
names the label column in the run's `target` param; a label column found in the file is dropped.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from drift import DriftError
from service.model_uri import ModelURI
from training.registry import version_in_stage

logger = logging.getLogger(__name__)

REFERENCE_ARTIFACT = "reference/reference.parquet"
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


@dataclass(frozen=True)
class Reference:
    """The version a model URI resolves to, and that version's reference rows (features only)."""

    name: str
    version: str
    run_id: str
    target: str | None
    frame: pd.DataFrame


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, shortened: enough to act on, no wall of text."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_missing(exc: MlflowException) -> bool:
    """MLflow answers a missing alias with INVALID_PARAMETER_VALUE "... not found", a missing model with 404."""
    return exc.error_code in _MISSING or "not found" in exc.message.lower()


def resolve_version(client: MlflowClient, uri: ModelURI) -> ModelVersion:
    """The version behind `models:/name@alias`, `models:/name/stage` (the latest in it) or `models:/name/version`."""
    try:
        client.get_registered_model(uri.name)
    except MlflowException as exc:
        if _is_missing(exc):
            raise DriftError(f"unknown model {uri.name!r}: no registered model of that name") from exc
        raise DriftError(f"cannot reach the model registry at {client.tracking_uri}: {one_line(exc)}") from exc
    try:
        if uri.alias is not None:
            return client.get_model_version_by_alias(uri.name, uri.alias)
        if uri.stage is not None:
            in_stage = version_in_stage(client, uri.name, uri.stage)
            if in_stage is None:
                raise DriftError(f"model {uri.name!r} has no version in stage {uri.stage!r}")
            return client.get_model_version(uri.name, in_stage)
        return client.get_model_version(uri.name, str(uri.version))
    except MlflowException as exc:
        if not _is_missing(exc):
            raise DriftError(f"model registry error for {uri}: {one_line(exc)}") from exc
        what = f"alias {uri.alias!r}" if uri.alias is not None else f"version {uri.version}"
        raise DriftError(f"model {uri.name!r} has no {what}") from exc


def version_uri(version: ModelVersion) -> str:
    """`models:/name/version`: the resolved version, which an alias move during the check does not change."""
    return f"models:/{version.name}/{version.version}"


def load_reference(client: MlflowClient, uri: ModelURI, version: ModelVersion) -> Reference:
    """Read the reference rows of the version `uri` resolved to (`resolve_version`), without the label column."""
    if not version.run_id:
        raise DriftError(f"{uri} (version {version.version}) has no training run, so no reference rows")
    try:
        params = client.get_run(version.run_id).data.params
    except MlflowException as exc:
        raise DriftError(f"cannot read training run {version.run_id} of {uri}: {one_line(exc)}") from exc
    with tempfile.TemporaryDirectory(prefix="drift-reference-") as folder:
        try:
            path = client.download_artifacts(version.run_id, REFERENCE_ARTIFACT, folder)
            table = pq.read_table(Path(path))
        except (MlflowException, OSError, pa.ArrowException) as exc:
            raise DriftError(
                f"{uri} (version {version.version}, run {version.run_id}) has no readable artifact "
                f"{REFERENCE_ARTIFACT}: {one_line(exc)}"
            ) from exc
    target = params.get("target")
    frame = table.to_pandas()
    if target is not None and target in frame.columns:
        frame = frame.drop(columns=[target])
    if frame.empty or not len(frame.columns):
        raise DriftError(f"the reference of {uri} (run {version.run_id}) has no rows or no feature columns")
    logger.info(
        "reference: %s version %s, run %s, %d rows x %d features",
        uri.name,
        version.version,
        version.run_id,
        len(frame),
        len(frame.columns),
    )
    return Reference(uri.name, str(version.version), version.run_id, target, frame)
