"""Retraining on drift: a cooldown kept in the registry, a tag on the drifted version, the `train` project.

The cooldown lives in registered-model tags (`aliasserve.last_retrain_at`, ISO time, and
`aliasserve.last_retrain_drift_run`), so every drift job and every replica sees the same one, and it is
written before training starts: a training that crashes does not turn the next checks into a retry storm.
The drifted version gets `aliasserve.drift_detected=<drift run id>`, which a `model_version_tag.set`
webhook listener can act on. Training runs through MLflow Projects (`entry_point="train"`, local env),
synchronously, so the outcome (run, new version, promoted or not) goes into the drift job's JSON.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import mlflow.projects
from mlflow import MlflowClient
from mlflow.exceptions import ExecutionException, MlflowException

from drift.reference import one_line
from drift.settings import RetrainRequest
from training.registry import production_version
from training.tracking import experiment_name_for

logger = logging.getLogger(__name__)

LAST_RETRAIN_AT = "aliasserve.last_retrain_at"
LAST_RETRAIN_DRIFT_RUN = "aliasserve.last_retrain_drift_run"
DRIFT_DETECTED_TAG = "aliasserve.drift_detected"
ENTRY_POINT = "train"


def cooldown_until(client: MlflowClient, model: str, cooldown: timedelta) -> datetime | None:
    """When the cooldown of the last retraining ends, or None when there is none or it is unreadable."""
    last = client.get_registered_model(model).tags.get(LAST_RETRAIN_AT)
    if not last:
        return None
    try:
        return datetime.fromisoformat(last) + cooldown
    except ValueError:
        logger.warning("ignoring unreadable registry tag %s=%r", LAST_RETRAIN_AT, last)
        return None


def _outcome(client: MlflowClient, model: str, run_id: str, stage: str | None) -> dict[str, Any]:
    """The version the training run registered and whether it is served now (alias `Production`, or `stage`)."""
    versions = client.search_model_versions(f"name='{model}' and run_id='{run_id}'")
    if not versions:
        return {"version": None, "promoted": False}
    version = str(max(int(v.version) for v in versions))
    return {"version": version, "promoted": production_version(client, model, stage) == version}


def retrain(
    client: MlflowClient, request: RetrainRequest, model: str, version: str, drift_run_id: str, now: datetime
) -> dict[str, Any]:
    """Start the `train` entry point unless a cooldown holds; returns the JSON `retrain` object."""
    until = cooldown_until(client, model, request.cooldown)
    if until is not None and now < until:
        logger.info("retrain: not triggered, cooldown until %s", until.isoformat())
        return {"triggered": False, "reason": f"cooldown until {until.isoformat()}"}
    client.set_model_version_tag(model, version, DRIFT_DETECTED_TAG, drift_run_id)
    client.set_registered_model_tag(model, LAST_RETRAIN_AT, now.isoformat())
    client.set_registered_model_tag(model, LAST_RETRAIN_DRIFT_RUN, drift_run_id)
    parameters = {
        "model_name": model,
        "data": request.data,
        "target": request.target,
        "promote": str(request.promote).lower(),
        "drift_run_id": drift_run_id,
        "stage": request.stage or "",
    }
    logger.info("retrain: starting %s entry point %r of %s", model, ENTRY_POINT, request.project_uri)
    try:
        with _this_interpreter_first():
            submitted = mlflow.projects.run(  # type: ignore[no-untyped-call]
                uri=request.project_uri,
                entry_point=ENTRY_POINT,
                parameters=parameters,
                env_manager="local",
                synchronous=True,
                experiment_name=experiment_name_for(model),
            )
    except (ExecutionException, MlflowException) as exc:
        logger.error("retrain: training failed: %s", one_line(exc))
        return {"triggered": True, "status": "failed", "error": one_line(exc)}
    outcome = _outcome(client, model, submitted.run_id, request.stage)
    logger.info(
        "retrain: run %s registered version %s, promoted %s", submitted.run_id, outcome["version"], outcome["promoted"]
    )
    return {"triggered": True, "status": "finished", "run_id": submitted.run_id, **outcome}


@contextmanager
def _this_interpreter_first() -> Iterator[None]:
    """`env_manager="local"` runs the entry point's `python -m training ...` from PATH: make that this
    interpreter, so a job started as `.venv/bin/python -m drift` (no activated venv) trains in its own
    environment instead of whatever `python` comes first."""
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{before}"
    try:
        yield
    finally:
        os.environ["PATH"] = before
