"""How two versions' answers for the same rows compare: what counts as a disagreement, and how far apart.

Classifiers (the production version has classes, or answers labels that are not numbers): a row disagrees
when the labels differ. With probabilities (`predict_proba`) the label is the most probable class, and the
total-variation distance between the two vectors (half the sum of absolute differences: 0 identical, 1
disjoint) is measured too, when both versions know the same classes. Regressors: a row disagrees when
|a - b| > atol + rtol * |a| (a = production), NaN on either side included, and |a - b| is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Comparison:
    rows: int
    disagreeing: int
    labels: np.ndarray
    """The shadow's label or value per row, as the capture stores it beside production's."""
    probabilities: np.ndarray | None = None
    """The shadow's probabilities in the order of production's classes (None unless both gave them)."""
    differences: np.ndarray | None = None
    """Regressors: |production - shadow| per row."""
    distances: np.ndarray | None = None
    """Probabilities: total-variation distance per row."""


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


def compare(
    production: Any,
    shadow: Any,
    n_rows: int,
    tolerance: Tolerance,
    classes: list[Any] | None = None,
    shadow_classes: list[Any] | None = None,
    probabilities: bool = False,
) -> Comparison:
    """Compare two outputs of `n_rows` rows; `probabilities`: both are rows of class probabilities.

    Raises ValueError when the outputs cannot be compared row by row (another shape): that is the
    shadow's fault, counted as its error.
    """
    if probabilities:
        return _compare_probabilities(np.asarray(production), np.asarray(shadow), n_rows, classes, shadow_classes)
    a, b = _rows(production, n_rows), _rows(shadow, n_rows)
    if a.shape != b.shape:
        raise ValueError(f"the shadow answered shape {b.shape}, production {a.shape}")
    numeric = a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
    if classes is not None or not numeric:
        differ = _row_any(_differ(a, b))
        return Comparison(n_rows, int(differ.sum()), shadow)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    gap = np.abs(a64 - b64)
    within = gap <= tolerance.atol + tolerance.rtol * np.abs(a64)
    differ = _row_any(~within)
    return Comparison(n_rows, int(differ.sum()), shadow, differences=_row_max(gap))


def _compare_probabilities(
    a: np.ndarray, b: np.ndarray, n_rows: int, classes: list[Any] | None, shadow_classes: list[Any] | None
) -> Comparison:
    if a.ndim != 2 or b.ndim != 2 or len(a) != n_rows or len(b) != n_rows:
        raise ValueError(f"the shadow answered probabilities of shape {b.shape}, production {a.shape}")
    if classes is None or shadow_classes is None:
        raise ValueError("a version that gives probabilities without naming its classes")
    shadow_labels = np.asarray(shadow_classes)[np.argmax(b, axis=1)]
    production_labels = np.asarray(classes)[np.argmax(a, axis=1)]
    differ = _differ(production_labels, shadow_labels)
    aligned: np.ndarray | None = None
    distances: np.ndarray | None = None
    names, shadow_names = [str(c) for c in classes], [str(c) for c in shadow_classes]
    if sorted(names) == sorted(shadow_names) and len(set(names)) == len(names):
        aligned = b[:, [shadow_names.index(name) for name in names]]
        distances = 0.5 * np.abs(a.astype(np.float64) - aligned).sum(axis=1)
    return Comparison(n_rows, int(differ.sum()), shadow_labels, aligned, distances=distances)


def _rows(output: Any, n_rows: int) -> np.ndarray:
    values = np.asarray(output)
    if values.ndim == 0 or len(values) != n_rows:
        raise ValueError(f"an output of shape {values.shape} for {n_rows} rows")
    return values.reshape(n_rows, -1)


def _differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Labels compared as numbers when both are numbers, else by their text (so 1 and "1" are one class)."""
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return np.asarray(a != b)
    return np.asarray(_text(a) != _text(b))


def _text(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "US":
        return values
    flat = [str(v.item() if isinstance(v, np.generic) else v) for v in values.ravel()]
    return np.asarray(flat).reshape(values.shape)


def _row_any(flags: np.ndarray) -> np.ndarray:
    return np.asarray(flags.reshape(len(flags), -1).any(axis=1))


def _row_max(values: np.ndarray) -> np.ndarray:
    return np.asarray(values.reshape(len(values), -1).max(axis=1))
