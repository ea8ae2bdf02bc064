"""The promotion gate: score Challenger and Production on the same held-out rows and compare.

The comparison goes through `mlflow.validate_evaluation_results`. Its `min_absolute_change` must be
positive (the challenger has to *beat* the baseline by it), which cannot say "not worse than
Production by more than the tolerance". So the gate expresses that as an absolute `threshold` of
`production - tolerance` (or `+ tolerance` when lower is better) on the challenger's score alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import EvaluationResult, MetricThreshold
from mlflow.models.evaluation.validation import ModelValidationFailedException
from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error

from training.errors import TrainingInputError

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 0.01
CLASSIFIER_METRICS = ("accuracy", "f1")
REGRESSOR_METRICS = ("rmse",)
GREATER_IS_BETTER = {"accuracy": True, "f1": True, "rmse": False}


class Decision(StrEnum):
    """What the gate decided; logged as the run tag `gate.decision`."""

    PROMOTED = "promoted"
    REJECTED = "rejected"
    NO_PRODUCTION = "no_production"
    NOT_REQUESTED = "not_requested"
    FORCED = "forced"
    WAITING = "waiting"
    """The offline gate passed, and live evidence is required first (`python -m training promote` later)."""


@dataclass(frozen=True)
class GateResult:
    """Both scores on the held-out rows and the decision taken from them."""

    decision: Decision
    metric: str
    tolerance: float
    challenger_score: float
    production_score: float | None
    production_version: str | None
    passed: bool
    reason: str | None = None
    """Why the gate refused without comparing scores (Production could not score the held-out rows)."""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decision": self.decision.value}


def choose_metric(estimator: Any, metric: str | None) -> str:
    """accuracy for classifiers and rmse for regressors by default; refuses a metric of the wrong kind."""
    allowed: tuple[str, ...]
    if is_classifier(estimator):
        allowed, default = CLASSIFIER_METRICS, "accuracy"
    elif is_regressor(estimator):
        allowed, default = REGRESSOR_METRICS, "rmse"
    else:
        kind = type(estimator).__name__
        raise TrainingInputError(f"cannot gate a {kind}: it is neither a classifier nor a regressor")
    if not metric:
        return default
    if metric not in allowed:
        raise TrainingInputError(f"metric {metric!r} does not fit a {type(estimator).__name__}; use one of {allowed}")
    return metric


def score(predict: Callable[[pd.DataFrame], Any], features: pd.DataFrame, labels: pd.Series, metric: str) -> float:
    """`metric` of `predict(features)` against `labels`; f1 is macro-averaged so any labels work."""
    predictions = np.asarray(predict(features)).ravel()
    if metric == "accuracy":
        return float(accuracy_score(labels, predictions))
    if metric == "f1":
        return float(f1_score(labels, predictions, average="macro"))
    return float(np.sqrt(mean_squared_error(labels, predictions)))


def passes(metric: str, challenger: float, production: float, tolerance: float) -> bool:
    """True when the challenger is not worse than production by more than `tolerance`."""
    greater_is_better = GREATER_IS_BETTER[metric]
    bound = production - tolerance if greater_is_better else production + tolerance
    thresholds = {
        metric: MetricThreshold(  # type: ignore[no-untyped-call]
            threshold=float(bound), greater_is_better=greater_is_better
        )
    }
    candidate = EvaluationResult({metric: challenger}, {})  # type: ignore[no-untyped-call]
    try:
        mlflow.validate_evaluation_results(thresholds, candidate)
    except ModelValidationFailedException as exc:
        logger.info("gate: %s", exc.message)
        return False
    return True


def unscorable(production: str, exc: Exception) -> str:
    """The gate's reason when Production cannot score the held-out rows: it fails closed, not open."""
    return (
        f"Production version {production} cannot score the held-out rows ({type(exc).__name__}: {exc}); "
        "the gate fails closed: nothing to compare the challenger with (pass --force to promote anyway)"
    )


def decide(*, passed: bool, has_production: bool, promote: bool, forced: bool) -> Decision:
    """`forced` (`--force`, or the API asked for `Production` directly) wins; with no Production, nothing
    to beat. A Production that exists but cannot be scored counts as not passed (see `unscorable`)."""
    if forced:
        return Decision.FORCED
    if not has_production:
        return Decision.NO_PRODUCTION
    if not promote:
        return Decision.NOT_REQUESTED
    return Decision.PROMOTED if passed else Decision.REJECTED


def promotes(decision: Decision, promote: bool) -> bool:
    """Whether the challenger becomes Production: promoted or forced, or the first version when asked."""
    return decision in {Decision.PROMOTED, Decision.FORCED} or (decision is Decision.NO_PRODUCTION and promote)


def log_gate(result: GateResult) -> None:
    """Record the gate on the active run: scores as metrics, decision and context as tags."""
    mlflow.log_metric("gate.challenger_score", result.challenger_score)
    if result.production_score is not None:
        mlflow.log_metric("gate.production_score", result.production_score)
    tags = {
        "gate.decision": result.decision.value,
        "gate.metric": result.metric,
        "gate.tolerance": str(result.tolerance),
        "gate.passed": str(result.passed).lower(),
    }
    if result.production_version is not None:
        tags["gate.production_version"] = result.production_version
    if result.reason is not None:
        tags["gate.reason"] = result.reason[:5000]
    mlflow.set_tags(tags)
