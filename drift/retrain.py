"""Retraining on drift: a cooldown kept in the registry, a tag on the drifted version, the `train` project.

The cooldown lives in registered-model tags (`aliasserve.last_retrain_at`, ISO time, and
`aliasserve.last_retrain_drift_run`), so every drift job and every replica sees the same one, and it is
written before training starts: a training that crashes does not turn the next checks into a retry storm.

Two jobs at once (a manual `kubectl create job --from=cronjob` beside the schedule) both read the same
`last_retrain_at`; reading then writing it would let both retrain. So the retraining is claimed first by
creating a registered model named after the value read (`<model>.retrain-claim.<digest>`): the registry
refuses to create a name twice, so exactly one job wins, the other reports the cooldown. Claims are kept
(one small registered model per retraining, tagged `aliasserve.retrain_claim_for`): deleting one would let
a job that read the old value long ago claim it again.
The drifted version gets `aliasserve.drift_detected=<drift run id>`, which a `model_version_tag.set`
webhook listener can act on. Training runs through MLflow Projects (`entry_point="train"`, local env),
synchronously, so the outcome (run, new version, promoted or not) goes into the drift job's JSON.
"""

from __future__ import annotations

import hashlib
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
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

from drift.reference import one_line
from drift.selection import CLAIM_FOR_TAG
from drift.settings import DriftSettings, RetrainRequest, format_duration
from drift.shadow_settings import LiveBounds
from training.registry import production_version
from training.tracking import experiment_name_for

logger = logging.getLogger(__name__)

LAST_RETRAIN_AT = "aliasserve.last_retrain_at"
LAST_RETRAIN_DRIFT_RUN = "aliasserve.last_retrain_drift_run"
DRIFT_DETECTED_TAG = "aliasserve.drift_detected"
ENTRY_POINT = "train"


def cooldown_until(client: MlflowClient, model: str, cooldown: timedelta) -> datetime | None:
    """When the cooldown of the last retraining ends, or None when there is none or it is unreadable."""
    return _until(client.get_registered_model(model).tags.get(LAST_RETRAIN_AT), cooldown)


def _until(last: str | None, cooldown: timedelta) -> datetime | None:
    if not last:
        return None
    try:
        return datetime.fromisoformat(last) + cooldown
    except ValueError:
        logger.warning("ignoring unreadable registry tag %s=%r", LAST_RETRAIN_AT, last)
        return None


def claim_name(model: str, last_retrain_at: str | None) -> str:
    """The registered model whose creation claims the retraining that follows `last_retrain_at`."""
    digest = hashlib.sha256((last_retrain_at or "never").encode()).hexdigest()[:16]
    return f"{model}.retrain-claim.{digest}"


def claim(client: MlflowClient, model: str, last_retrain_at: str | None, drift_run_id: str) -> bool:
    """Claim the retraining after `last_retrain_at` (the value this job read); False if another job did."""
    name = claim_name(model, last_retrain_at)
    try:
        client.create_registered_model(
            name,
            tags={CLAIM_FOR_TAG: model, LAST_RETRAIN_DRIFT_RUN: drift_run_id},
            description=f"Claims one retraining of {model} by a drift job (see drift/retrain.py); safe to ignore.",
        )
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            logger.info("retrain: %s exists: another drift job claimed this retraining", name)
            return False
        raise
    return True


def _claim_or_reason(
    client: MlflowClient, request: RetrainRequest, model: str, drift_run_id: str, now: datetime
) -> str | None:
    """None when this job now owns the retraining (the cooldown is written); else why it does not."""
    last = client.get_registered_model(model).tags.get(LAST_RETRAIN_AT)
    until = _until(last, request.cooldown)
    if until is not None and now < until:
        return f"cooldown until {until.isoformat()}"
    if not claim(client, model, last, drift_run_id):
        until = cooldown_until(client, model, request.cooldown) or now + request.cooldown
        return f"cooldown until {until.isoformat()} (another drift job claimed this retraining)"
    client.set_registered_model_tag(model, LAST_RETRAIN_AT, now.isoformat())
    client.set_registered_model_tag(model, LAST_RETRAIN_DRIFT_RUN, drift_run_id)
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
    if (reason := _claim_or_reason(client, request, model, drift_run_id, now)) is not None:
        logger.info("retrain: not triggered, %s", reason)
        return {"triggered": False, "reason": reason}
    client.set_model_version_tag(model, version, DRIFT_DETECTED_TAG, drift_run_id)
    parameters = {
        "model_name": model,
        "data": request.data,
        "target": request.target,
        "promote": str(request.promote).lower(),
        "drift_run_id": drift_run_id,
        "stage": request.stage or "",
        **live_parameters(request.live),
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


def live_parameters(live: LiveBounds | None) -> dict[str, str]:
    """The `train` entry point's live-gate parameters: the retrained version then waits as Challenger."""
    if live is None:
        return {}
    return {
        "shadow_min_rows": str(live.min_rows),
        "shadow_min_agreement": str(live.min_agreement),
        "shadow_max_error_rate": str(live.max_error_rate),
        "shadow_window": format_duration(live.window),
        "shadow_atol": str(live.tolerance.atol),
        "shadow_rtol": str(live.tolerance.rtol),
        "capture_uri": live.capture_uri,
    }


def judge_challenger(
    client: MlflowClient, settings: DriftSettings, model: str, drift_run_id: str, now: datetime
) -> dict[str, Any] | None:
    """With `--promote` and live bounds, every run (drift or not) judges the waiting Challenger on its
    shadow rows and promotes it when they are within bounds (`training/promotion.py`); else None.
    The evidence window ends where the check's window ends (`--window-end`, default now)."""
    request = settings.retrain
    if request is None or request.live is None or not request.promote:
        return None
    from training.promotion import promote_on_evidence

    return promote_on_evidence(
        client, settings.tracking_uri, model, request.live, now, stage=request.stage, drift_run_id=drift_run_id
    )


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
