"""Linear models compiled to their affine map: `x·W + b`, evaluated in process (runtime `linear`).

A scikit-learn pipeline of per-column scalings (`StandardScaler`, `MinMaxScaler` without clipping,
`MaxAbsScaler`, `passthrough`) ending in `LogisticRegression`, `LinearRegression`, `Ridge`, `Lasso` or
`ElasticNet` computes, for a row `x`, scores `x·W + b`: the scalings fold into the weights. Labels and
probabilities follow from the scores as scikit-learn derives them (`LinearClassifierMixin.predict`: class 1
where the score is > 0, else the first highest score; `LogisticRegression.predict_proba`: the logistic
function for two classes, softmax for more).

Why not ONNX Runtime for these: a lone row through a session costs ~6 µs back to back but 40-70 µs in a
served request (its code and buffers fall out of the CPU's caches between requests, bench/profile.md), and
under mixed traffic over many models every request is such a row. A row's label from its scores in Python
floats touches a few hundred bytes of weights: 4.7 µs back to back, 17 µs after the core idled 1 ms (ONNX
Runtime's call alone: 6.0 and 55 µs, same harness). Batches take one numpy product. In float64 throughout, as
scikit-learn computes (ONNX Runtime's linear operators are float32); the fold only reorders a few roundings
per weight (~1e-15 relative). As for ONNX, the form serves only once it is proven equal at load
(`service/compiled.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from operator import mul
from typing import Any, Literal

import numpy as np

from service.loaded_model import LoadedModel
from service.onnx_runtime import refuse_non_finite
from service.shared_calls import RowForm

Kind = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True)
class Affine:
    weights: np.ndarray
    """(features, outputs), float64."""
    bias: np.ndarray
    """(outputs,)."""
    kind: Kind
    flat: bool
    """A regressor with one target: predictions are one value per row, not a column."""
    rows: tuple[tuple[tuple[float, ...], float], ...]
    """Each output's weights and bias as Python floats: a lone row is scored without numpy."""

    def scores(self, data: np.ndarray) -> np.ndarray:
        """(rows, outputs) scores of a (rows, features) array."""
        return np.asarray(data, dtype=np.float64) @ self.weights + self.bias  # type: ignore[no-any-return]

    def row_scores(self, row: list[float]) -> list[float]:
        return [bias + sum(map(mul, weights, row)) for weights, bias in self.rows]


def fold(estimator: Any, width: int) -> Affine | None:
    """The affine map of `estimator` over `width` input columns, or None when it is not one this folds."""
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge

    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    *scalings, final = steps
    scale, shift = np.ones(width), np.zeros(width)
    for step in scalings:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        found = _scaling(step, width)
        if found is None:
            return None
        a, c = found
        scale, shift = a * scale, a * shift + c
    if type(final) not in (LogisticRegression, LinearRegression, Ridge, Lasso, ElasticNet):
        return None  # subclasses may predict otherwise
    coef = np.asarray(final.coef_, dtype=np.float64)
    flat = coef.ndim == 1
    coef = coef.reshape(1, -1) if flat else coef
    intercept = np.broadcast_to(np.asarray(final.intercept_, dtype=np.float64), (coef.shape[0],))
    if coef.shape[1] != width or not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        return None
    kind: Kind = "regression"
    if isinstance(final, LogisticRegression):
        kind = "binary" if len(final.classes_) == 2 and coef.shape[0] == 1 else "multiclass"
        if kind == "multiclass" and coef.shape[0] != len(final.classes_):
            return None
    weights = np.ascontiguousarray((scale[:, None] * coef.T).astype(np.float64))
    bias = (shift @ coef.T + intercept).astype(np.float64)
    rows = tuple((tuple(weights[:, k].tolist()), float(bias[k])) for k in range(weights.shape[1]))
    return Affine(weights, bias, kind, flat and kind == "regression", rows)


def _scaling(step: Any, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(a, c) with the step's output `a * x + c` per column, for the scalers that are exactly that."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    ones, zeros = np.ones(width), np.zeros(width)
    if type(step) is StandardScaler:
        mean = np.asarray(step.mean_, dtype=np.float64) if step.with_mean else zeros
        std = np.asarray(step.scale_, dtype=np.float64) if step.with_std else ones
        a, c = 1.0 / std, -mean / std
    elif type(step) is MinMaxScaler and not step.clip:
        a, c = np.asarray(step.scale_, dtype=np.float64), np.asarray(step.min_, dtype=np.float64)
    elif type(step) is MaxAbsScaler:
        a, c = 1.0 / np.asarray(step.scale_, dtype=np.float64), zeros
    else:
        return None
    a, c = np.broadcast_to(a, (width,)), np.broadcast_to(c, (width,))
    return (a, c) if a.shape == (width,) and np.isfinite(a).all() and np.isfinite(c).all() else None


def labels(affine: Affine, data: np.ndarray, classes: np.ndarray, row: list[float] | None = None) -> np.ndarray:
    """The predicted class per row, as `LinearClassifierMixin.predict` picks it; `row`: a lone row's values."""
    if row is not None:
        scores = affine.row_scores(row)
        if not any(map(math.isnan, scores)):  # NaN: numpy's rules below
            first = (1 if scores[0] > 0 else 0) if affine.kind == "binary" else scores.index(max(scores))
            return classes[first : first + 1].copy()
    found = affine.scores(data)
    if affine.kind == "binary":
        return np.asarray(classes[(found[:, 0] > 0).astype(np.intp)])
    return np.asarray(classes[np.argmax(found, axis=1)])


def probabilities(affine: Affine, data: np.ndarray) -> np.ndarray:
    """(rows, classes) as `LogisticRegression.predict_proba` gives them."""
    found = affine.scores(data)
    if affine.kind == "binary":
        positive = np.exp(-np.logaddexp(0.0, -found[:, 0]))  # 1 / (1 + e^-z) without overflow
        return np.column_stack([1.0 - positive, positive])
    found -= found.max(axis=1, keepdims=True)
    np.exp(found, out=found)
    found /= found.sum(axis=1, keepdims=True)
    return found


def values(affine: Affine, data: np.ndarray, row: list[float] | None = None) -> np.ndarray:
    """A regressor's predictions: one per row, or (rows, targets)."""
    scores = np.array([affine.row_scores(row)]) if row is not None else affine.scores(data)
    return scores[:, 0] if affine.flat else scores


def linear_model(loaded: LoadedModel, affine: Affine, refuse_infinite: bool, refuse_nan: bool) -> LoadedModel:
    """`loaded` with its model calls on `affine` (rows as one float array); the native estimator is dropped.

    Refuses an infinite value or NaN where the native model does, with its message (`service/compiled.py`
    probes which)."""
    classes = getattr(loaded.estimator, "classes_", None)
    class_array = np.asarray(classes) if classes is not None else None
    refusing = refuse_infinite or refuse_nan

    def lone_row(data: np.ndarray) -> list[float] | None:
        """A lone row's values (checked), scored in Python; None for a batch (checked, scored by numpy)."""
        row: list[float] | None = data[0].tolist() if len(data) == 1 else None
        if refusing and not (all(map(math.isfinite, row)) if row is not None else np.isfinite(data).all()):
            refuse_non_finite(np.asarray(data, dtype=np.float64), refuse_infinite, refuse_nan)
        return row

    def predict(data: Any, _params: dict[str, Any] | None) -> np.ndarray:
        row = lone_row(data)
        return values(affine, data, row) if class_array is None else labels(affine, data, class_array, row)

    def proba(data: Any) -> np.ndarray:
        lone_row(data)
        return probabilities(affine, data)

    row_form = None
    if affine.kind == "binary" and class_array is not None:
        row_form = RowForm(affine.weights.shape[0], affine.weights[:, 0].copy(), float(affine.bias[0]), class_array)
    return replace(
        loaded,
        predict_frame=predict,
        proba_frame=proba if loaded.proba_frame is not None and class_array is not None else None,
        array_input=True,
        estimator=None,
        row_form=row_form,
    )
