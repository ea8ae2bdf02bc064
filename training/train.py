"""`train_and_register`: fit, log the SPEC's records, register a version, gate it, and maybe promote it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.pandas_dataset import PandasDataset
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from drift.shadow_settings import LiveBounds
from training import records, registry
from training.data import require_target
from training.errors import TrainingInputError
from training.estimator import choose_estimator, describe
from training.gate import (
    DEFAULT_TOLERANCE,
    Decision,
    GateResult,
    choose_metric,
    decide,
    log_gate,
    passes,
    promotes,
    score,
    unscorable,
)
from training.live_gate import Judgement, LiveDecision, record, summary
from training.promotion import OFFLINE_PASSED_TAG, ROLE_TAG, no_evidence
from training.provenance import CodeVersion
from training.tracking import experiment_name_for, start_training_run

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.2
SPLIT_SEED = 0
DRIFT_RUN_TAG = "aliasserve.drift_run_id"


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced: the run, the registered version, and the gate's verdict."""

    model_name: str
    run_id: str
    version: str
    alias: str | None
    promoted: bool
    gate: GateResult

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "run_id": self.run_id,
            "version": self.version,
            "alias": self.alias,
            "promoted": self.promoted,
            "gate": self.gate.as_dict(),
        }


def split_frame(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeded (training part, held-out part) split; the held-out part scores the gate."""
    require_target(frame, target)
    if len(frame.columns) < 2:
        raise TrainingInputError("the data has no feature columns besides the target")
    if len(frame) < 10:
        raise TrainingInputError(f"too few rows to train and hold out a test part: {len(frame)}")
    fit_part, holdout = train_test_split(frame, test_size=HOLDOUT_SHARE, random_state=SPLIT_SEED)
    return fit_part, holdout


def _production_score(
    name: str, production: str, features: pd.DataFrame, labels: pd.Series, metric: str
) -> float | str:
    """Production's score on the held-out rows, or why it cannot score them (e.g. a changed schema)."""
    try:
        production_model = mlflow.pyfunc.load_model(f"models:/{name}/{production}")
        return score(production_model.predict, features, labels, metric)
    except Exception as exc:  # the gate fails closed on any failure to score Production
        reason = unscorable(production, exc)
        logger.warning("gate: %s", reason)
        return reason


def _gate(
    fitted: Any,
    holdout: pd.DataFrame,
    target: str,
    *,
    name: str,
    production: str | None,
    metric: str,
    tolerance: float,
    promote: bool,
    forced: bool,
) -> GateResult:
    """Score challenger and Production on the same held-out rows and decide."""
    features, labels = holdout.drop(columns=[target]), holdout[target]
    challenger_score = score(fitted.predict, features, labels, metric)
    production_score: float | None = None
    reason: str | None = None
    if production is not None:
        scored = _production_score(name, production, features, labels, metric)
        production_score, reason = (None, scored) if isinstance(scored, str) else (scored, None)
    passed = production is None or (
        production_score is not None and passes(metric, challenger_score, production_score, tolerance)
    )
    decision = decide(passed=passed, has_production=production is not None, promote=promote, forced=forced)
    versus = "no score" if production_score is None else f"{production_score:.4f}"
    logger.info("gate: %s (%s %.4f, Production %s)", decision.value, metric, challenger_score, versus)
    return GateResult(decision, metric, tolerance, challenger_score, production_score, production, passed, reason)


def _fit(estimator: Any, fit_part: pd.DataFrame, target: str) -> Any:
    logger.info("fitting %s on %d rows", type(estimator).__name__, len(fit_part))
    try:
        return estimator.fit(fit_part.drop(columns=[target]), fit_part[target])
    except ValueError as exc:
        raise TrainingInputError(f"cannot fit {type(estimator).__name__} on this data: {exc}") from exc


def _log_inputs(
    frame: pd.DataFrame, target: str, model_name: str, estimator: Any, source: str | None
) -> tuple[PandasDataset, CodeVersion]:
    """Params, the dataset input, the reference rows, how it is trained: everything known before the fit."""
    kind, final_kind = describe(estimator)
    mlflow.log_params({"target": target, "model_name": model_name, "estimator": kind, "final_estimator": final_kind})
    dataset = records.log_dataset(frame, target, source, name=model_name)
    code = records.log_provenance(estimator)
    records.log_reference(frame.drop(columns=[target]))
    return dataset, code


def train_and_register(
    model_name: str,
    frame: pd.DataFrame,
    target: str,
    *,
    estimator: BaseEstimator | None = None,
    alias: str | None = registry.CHALLENGER,
    promote: bool = False,
    tracking_uri: str | None = None,
    drift_run_id: str | None = None,
    metric: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    experiment: str | None = None,
    holdout: pd.DataFrame | None = None,
    source: str | None = None,
    stage: str | None = None,
    force: bool = False,
    live: LiveBounds | None = None,
) -> TrainResult:
    """Fit on `frame`, log and register a version of `model_name`, alias it, gate it, promote if asked.

    `alias="Production"` sets Production directly (through `registry.promote`, so `Previous` is kept);
    the gate is still scored and logged, with the decision `forced`. `holdout` replaces the seeded
    held-out split as the gate's data; `source` names where `frame` came from in the logged dataset.
    `stage` (a model served by stage URI): the gate's Production is the latest version in that stage, and
    promotion is a transition into it (`training/registry.py`).
    `force` promotes whatever the gate says (decision `forced`), e.g. when Production cannot be scored.
    `live` (live evidence required): a version that passes the offline gate against a Production waits as
    `Challenger` (decision `waiting`) until `training.promotion.promote_on_evidence` finds its evidence.
    """
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    uri = mlflow.get_tracking_uri()
    client = MlflowClient(uri)
    fit_part, split_holdout = split_frame(frame, target)
    holdout = split_holdout if holdout is None else holdout
    require_target(holdout, target)
    production = registry.production_version(client, model_name, stage)
    production_uri = None if production is None else f"models:/{model_name}/{production}"
    chosen = choose_estimator(estimator, fit_part.drop(columns=[target]), production_uri)
    metric = choose_metric(chosen, metric)
    forced = alias == registry.PRODUCTION or force

    with start_training_run(client, uri, experiment or experiment_name_for(model_name)) as run:
        mlflow.set_tags({ROLE_TAG: "training", **({DRIFT_RUN_TAG: drift_run_id} if drift_run_id else {})})
        dataset, code = _log_inputs(frame, target, model_name, chosen, source)
        fitted = _fit(chosen, fit_part, target)
        logger.info("logging the model to run %s and registering it as %s", run.info.run_id, model_name)
        info = records.log_model(fitted, fit_part.drop(columns=[target]), model_name)
        records.log_reference_predictions(fitted, frame.drop(columns=[target]), info.model_uri)
        version = str(info.registered_model_version)
        logger.info("registered %s version %s", model_name, version)
        records.describe_version(client, model_name, version, run.info.run_id, dataset, code)
        if alias and alias != registry.PRODUCTION:
            client.set_registered_model_alias(model_name, alias, version)
        gate = _gate(
            fitted,
            holdout,
            target,
            name=model_name,
            production=production,
            metric=metric,
            tolerance=tolerance,
            promote=promote,
            forced=forced,
        )
        if live is not None and gate.decision is Decision.PROMOTED:
            gate = replace(gate, decision=Decision.WAITING)
            _record_waiting(client, model_name, version, run.info.run_id, production, live)
        log_gate(gate)
        client.set_model_version_tag(model_name, version, OFFLINE_PASSED_TAG, str(gate.passed).lower())
        promoted = promotes(gate.decision, promote)
        if promoted:
            registry.promote(client, model_name, version, stage)
        return TrainResult(model_name, run.info.run_id, version, alias, promoted, gate)


def _record_waiting(
    client: MlflowClient, name: str, version: str, run_id: str, production: str | None, live: LiveBounds
) -> None:
    """The live gate's first word on a version just registered: no rows shadowed yet, so waiting."""
    evidence = no_evidence(version, production, live, datetime.now(UTC))
    reason = f"waiting: version {version} is registered as {registry.CHALLENGER}; no rows shadowed yet"
    record(client, name, run_id, summary(evidence, live, Judgement(LiveDecision.WAITING, reason)))
