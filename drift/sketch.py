"""What the report draws of one feature, made by the tests from values they have already sorted or counted.

Numeric: 40 equal-width bins from the lower of the two sides' 0.5% quantiles to the higher of their
99.5% quantiles (values beyond count in the end bins) and each side's density per bin, all read from
the sorted values the KS test needs anyway (quantiles by position, counts by binary search).
Categorical: the 15 most frequent categories of the contingency table and each side's share of rows.
The HTML report draws sketches and never sees the rows, so the job keeps no data for it and makes no
second pass over the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

BINS = 40
SHOWN_CATEGORIES = 15
TAILS = (0.005, 0.995)


@dataclass(frozen=True, eq=False)
class Sketch:
    """Bin edges (numeric) or category labels (categorical), and each side's density or share per bin.

    A side without values has an empty array.
    """

    reference: NDArray[np.float64]
    current: NDArray[np.float64]
    edges: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    labels: tuple[str, ...] = ()


def _density(sorted_values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """Density per bin of values already sorted, the outermost bins taking the values beyond the edges."""
    if sorted_values.size == 0:
        return np.empty(0)
    inner = np.searchsorted(sorted_values, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], inner, [sorted_values.size]]))
    return np.asarray(counts / (sorted_values.size * (edges[1] - edges[0])), dtype=np.float64)


def _tails(sorted_values: NDArray[np.float64]) -> list[float]:
    """The finite values at the 0.5% and 99.5% positions of sorted values (infinities at the ends skipped)."""
    finite = sorted_values[np.searchsorted(sorted_values, -np.inf, "right") : np.searchsorted(sorted_values, np.inf)]
    if finite.size == 0:
        return []
    return [float(finite[round(q * (finite.size - 1))]) for q in TAILS]


def numeric_sketch(reference: NDArray[np.float64], current: NDArray[np.float64]) -> Sketch | None:
    """The densities of two sorted arrays without NaN; None when neither side has a finite value."""
    tails = _tails(reference) + _tails(current)
    if not tails:
        return None
    low, high = min(tails), max(tails)
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, BINS + 1)
    return Sketch(_density(reference, edges), _density(current, edges), edges=edges)


def categorical_sketch(labels: list[str], table: NDArray[np.int64]) -> Sketch:
    """Shares of the most frequent categories from the 2 x k contingency table (row 0 reference)."""
    totals = table.sum(axis=1, keepdims=True)
    shares = np.divide(table, totals, out=np.zeros(table.shape), where=totals > 0)[:, :SHOWN_CATEGORIES]
    reference, current = (row if total else np.empty(0) for row, total in zip(shares, totals[:, 0], strict=True))
    return Sketch(reference, current, labels=tuple(labels[:SHOWN_CATEGORIES]))
