"""One drift job over several models: every selected model checked on its own, one after another.

One run for all, not a job per model: a check's fixed cost is the process (importing MLflow, pandas and
SciPy takes seconds of CPU) while a model's own work is its reference, its capture window and its tests;
one CronJob and one pod start for all models keeps that cost once. Models are checked one at a time
(the pod's CPU limit is one core; a model being loaded to predict its reference rows holds memory), and
the run is bounded by `--time-budget`: no check starts once it is spent, the models left are reported
as skipped (and pushed as failed checks), so the job ends on its own before the CronJob's
`activeDeadlineSeconds` kills it mid-run.

Each model has its own verdict, MLflow run (experiment `drift-<model>`), reports, Pushgateway group
(`model` grouping key), retraining and cooldown (registry tags of that model). A model whose check cannot
run does not stop the others. Stdout: one JSON line per model (the single-model JSON with `status`
`checked`, or `{"status": "failed"|"skipped", "model", "model_uri", "error"}`), then a summary line.
Exit code: the worst over the models: 1 when a check could not run or was skipped, else 3 when a
retraining failed, else 0 (drift or not).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from drift import DriftError
from drift.job import run_drift_check
from drift.reference import one_line
from drift.result import DriftResult, result_json
from drift.selection import Selection, selected_models
from drift.settings import DriftSettings, format_duration
from service.model_uri import ModelURI

logger = logging.getLogger(__name__)

CHECKED, FAILED, SKIPPED = "checked", "failed", "skipped"
_clock = time.monotonic
"""The budget's clock (a test moves it instead of waiting)."""
_SEVERITY = {0: 0, 3: 1, 1: 2}
"""Exit codes from best to worst: a check that did not run tells less than a retraining that failed."""


@dataclass(frozen=True)
class ModelOutcome:
    """What the job did for one model."""

    uri: ModelURI
    status: str
    result: DriftResult | None = None
    error: str | None = None

    @property
    def code(self) -> int:
        if self.status != CHECKED:
            return 1
        return 3 if self.result is not None and self.result.retrain.get("status") == "failed" else 0

    def json(self) -> dict[str, Any]:
        if self.result is not None:
            return {"status": self.status, **result_json(self.result)}
        return {"status": self.status, "model": self.uri.name, "model_uri": str(self.uri), "error": self.error}


def _check(settings: DriftSettings) -> ModelOutcome:
    """One model's check; its failure is this model's outcome, never the job's end."""
    uri = settings.model_uri
    try:
        return ModelOutcome(uri, CHECKED, result=run_drift_check(settings))
    except DriftError as exc:
        error = one_line(exc)
    except MlflowException as exc:
        error = f"MLflow error: {one_line(exc)}"
    except Exception as exc:  # a bug or a broken file of one model must not cost the other models their check
        logger.exception("the check of %s failed", uri)
        error = f"{type(exc).__name__}: {one_line(exc)}"
    logger.error("check of %s could not run: %s", uri, error)
    if settings.pushgateway:
        _push_failure(uri.name, settings.pushgateway)
    return ModelOutcome(uri, FAILED, error=error)


def _push_failure(model: str, gateway: str) -> None:
    from drift.push import push_failure

    try:
        push_failure(model, gateway)
    except Exception as exc:  # as in drift/job.py: a gateway that is down is a warning
        logger.warning("could not push metrics to %s: %s", gateway, one_line(exc))


def summary(outcomes: list[ModelOutcome]) -> dict[str, Any]:
    """The last stdout line: every model's verdict at a glance, and the exit code."""
    by_verdict: dict[str, list[str]] = {"drift": [], "no_drift": [], "insufficient_data": []}
    for outcome in outcomes:
        if outcome.result is not None:
            verdict = outcome.result.drift_detected
            key = "insufficient_data" if verdict is None else "drift" if verdict else "no_drift"
            by_verdict[key].append(outcome.uri.name)
    return {
        "models": len(outcomes),
        **by_verdict,
        "retrain_triggered": [o.uri.name for o in outcomes if o.result and o.result.retrain.get("triggered")],
        "retrain_failed": [o.uri.name for o in outcomes if o.code == 3],
        "failed": {o.uri.name: o.error for o in outcomes if o.status == FAILED},
        "skipped": [o.uri.name for o in outcomes if o.status == SKIPPED],
        "exit_code": exit_code(outcomes),
    }


def exit_code(outcomes: list[ModelOutcome]) -> int:
    return max((o.code for o in outcomes), key=_SEVERITY.__getitem__, default=0)


def check_each_model(settings: DriftSettings, selection: Selection) -> int:
    """Check every selected model; prints a JSON line per model and the summary; returns the exit code.

    Raises MlflowException when the selection itself cannot be read (a filter and a registry that is down).
    """
    started = _clock()
    uris = selected_models(MlflowClient(settings.tracking_uri), selection)
    logger.info("drift job over %d models (%s)", len(uris), selection.describe())
    if not uris:
        logger.warning("no model matches %s: nothing to check", selection.describe())
    budget = settings.time_budget
    outcomes = []
    for position, uri in enumerate(uris, start=1):
        if budget is not None and _clock() - started >= budget.total_seconds():
            error = f"time budget of {format_duration(budget)} spent before its check started"
            outcome = ModelOutcome(uri, SKIPPED, error=error)
            if settings.pushgateway:
                _push_failure(uri.name, settings.pushgateway)
        else:
            logger.info("model %d of %d: %s", position, len(uris), uri)
            outcome = _check(settings.for_model(uri))
        print(json.dumps(outcome.json(), allow_nan=False), flush=True)
        outcomes.append(outcome)
    last = summary(outcomes)
    print(json.dumps(last, allow_nan=False), flush=True)
    if last["exit_code"]:
        not_run = [*last["failed"], *last["skipped"]]
        failed = ", ".join(last["retrain_failed"])
        what = f"could not check {', '.join(not_run)}" if not_run else f"retraining failed: {failed}"
        print(f"drift: {what} ({len(uris) - len(not_run)} of {len(uris)} models checked)", file=sys.stderr)
    return int(last["exit_code"])
