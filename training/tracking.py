"""Where a training run is recorded: tracking URI, experiment (and its artifact root), the run itself.

MLflow puts the artifacts of a database-backed store without a server under `./mlruns` by default;
this project keeps them under `./mlartifacts` next to `mlflow.db`, like `mlflow server` does, by
creating the experiment with that artifact location. MLflow Projects creates the run itself and
hands it over in `MLFLOW_RUN_ID`: the training then logs into that run instead of a second one.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import LifecycleStage
from mlflow.environment_variables import MLFLOW_RUN_ID, MLFLOW_TRACKING_URI
from mlflow.exceptions import MlflowException
from mlflow.store.db.db_types import DATABASE_ENGINES

from training.errors import TrainingInputError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
LOCAL_ARTIFACTS_DIR = "mlartifacts"


def tracking_uri_from_env() -> str:
    """MLflow's own `MLFLOW_TRACKING_URI`, else the embedded registry the service also defaults to."""
    configured: str | None = MLFLOW_TRACKING_URI.get()  # type: ignore[no-untyped-call]
    return configured or DEFAULT_TRACKING_URI


def experiment_name_for(model_name: str) -> str:
    """Training runs of a model share one experiment, as drift runs share `drift-<model name>`."""
    return f"training-{model_name}"


def _local_artifact_location(tracking_uri: str, experiment: str) -> str | None:
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in DATABASE_ENGINES:
        return None
    folder = re.sub(r"[^A-Za-z0-9._-]", "_", experiment)
    return (Path(LOCAL_ARTIFACTS_DIR) / folder).resolve().as_uri()


def ensure_experiment(client: MlflowClient, tracking_uri: str, experiment: str) -> str:
    """The id of `experiment`, created (with `./mlartifacts/<name>` for a local database) if missing."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        try:
            return client.create_experiment(
                experiment, artifact_location=_local_artifact_location(tracking_uri, experiment)
            )
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            found = client.get_experiment_by_name(experiment)
            if found is None:
                raise
    if found.lifecycle_stage == LifecycleStage.DELETED:
        raise TrainingInputError(f"experiment {experiment!r} is deleted: restore it or pass another name")
    return str(found.experiment_id)


def start_training_run(client: MlflowClient, tracking_uri: str, experiment: str) -> mlflow.ActiveRun:
    """Reuse the run MLflow Projects made (`MLFLOW_RUN_ID`), else start one in `experiment`.

    Started inside another active run (e.g. called from a drift run), the training run is nested.
    """
    if MLFLOW_RUN_ID.get():  # type: ignore[no-untyped-call]
        return mlflow.start_run()
    experiment_id = ensure_experiment(client, tracking_uri, experiment)
    return mlflow.start_run(experiment_id=experiment_id, nested=mlflow.active_run() is not None)
