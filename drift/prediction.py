"""Prediction drift: `_prediction` as captured against the reference version's predictions on its reference.

Only rows the reference version answered (`_model_version`) are compared: after a promotion inside the
window, the other version's answers say nothing about this one. Class labels (text, or integral numbers
with few distinct values) are compared as categories, anything else with KS.

The result is reported as the feature `prediction` in a section of its own and counts toward
`drift_detected` only with `--include-prediction`. Off by default: predictions are a function of the
inputs, which are already tested, so counting them adds no evidence of input drift, only one more test
to correct for; what they add is the consequence (how far the served answers moved), a diagnostic for
the report. Teams that act only when the answers move can turn it on.

The reference side (the version's predictions on its reference rows) comes from
`drift.reference_predictions`: stored once per version, or predicted on a thread while the capture is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types

from drift.reference import Reference
from drift.stats import FeatureComparison, Kind, compare

PREDICTION = "_prediction"
MODEL_VERSION = "_model_version"
MAX_CLASS_LABELS = 20


@dataclass(frozen=True)
class PredictionSides:
    """Reference-model predictions on the reference rows, and the captured ones of the same version."""

    kind: Kind
    reference: pd.Series
    current: pd.Series


def prediction_kind(values: pd.Series) -> Kind:
    """Categorical for class labels: text, bool, or integral numbers with at most 20 distinct values."""
    if not types.is_numeric_dtype(values.dtype) or types.is_bool_dtype(values.dtype):
        return "categorical"
    present = values.dropna().to_numpy(dtype=np.float64)
    integral = bool(np.all(np.mod(present, 1) == 0))
    return "categorical" if integral and np.unique(present).size <= MAX_CLASS_LABELS else "numeric"


def _align(values: pd.Series, numeric: bool) -> pd.Series:
    """Numeric predictions as float64 on both sides, so `1` predicted and `1.0` captured are one label."""
    if numeric:
        return pd.Series(pd.to_numeric(values, errors="coerce"), dtype=np.float64)
    return values.astype(object)


def prediction_sides(
    reference: Reference, current: pd.DataFrame, predicted: Callable[[], pd.Series | str]
) -> PredictionSides | str:
    """Both sides of the prediction comparison, or the reason it cannot be made.

    `predicted` gives the reference side (rows in the order of `reference.frame`); it is called only
    when the capture holds predictions of the reference's version to compare with.
    """
    if PREDICTION not in current.columns:
        return "the capture has no _prediction column"
    captured = current
    if MODEL_VERSION in current.columns:
        captured = current[current[MODEL_VERSION].astype(str) == reference.version]
    if captured.empty:
        return f"no captured rows were answered by version {reference.version}"
    if captured[PREDICTION].isna().all():
        return "the captured predictions are empty (a model with several outputs per row)"
    predictions = predicted()
    if isinstance(predictions, str):
        return predictions
    kind = prediction_kind(predictions)
    numeric = types.is_numeric_dtype(predictions.dtype) and not types.is_bool_dtype(predictions.dtype)
    return PredictionSides(
        kind,
        _align(predictions, numeric),
        _align(captured[PREDICTION].reset_index(drop=True), numeric),
    )


def compare_predictions(sides: PredictionSides) -> FeatureComparison:
    """The test of the `prediction` feature."""
    return compare("prediction", sides.kind, sides.reference, sides.current)
