"""Where production and the shadow disagree: the disagreement rate per range of each input feature.

Numeric features are cut at their deciles over the compared rows (so each range holds about a tenth of
them, and a narrow slice with a high rate is not lost in a wide equal-width bin); other features by
category (the 15 most frequent, the rest as "other"); missing values are a range of their own. The
report draws every feature's ranges in order and lists the ranges with the highest rate first; ranges
of fewer than `MIN_RANGE_ROWS` rows are drawn but not ranked (one row disagreeing is a rate of 100%).
Only the shadow version with the most rows in the window is studied; every version's counts are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from drift import shadow
from drift.shadow import ShadowCounts
from drift.shadow_settings import Tolerance
from drift.stats import Kind

DECILES = 10
SHOWN_CATEGORIES = 15
MIN_RANGE_ROWS = 5
TOP_RANGES = 10
MISSING = "missing"
OTHER = "other"


@dataclass(frozen=True)
class Range:
    """One range of one feature: how many compared rows fell in it and how many of them disagreed."""

    feature: str
    label: str
    rows: int
    disagreeing: int

    @property
    def rate(self) -> float:
        return self.disagreeing / self.rows if self.rows else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "range": self.label,
            "rows": self.rows,
            "disagreeing": self.disagreeing,
            "rate": self.rate,
        }


@dataclass(frozen=True)
class FeatureDisagreement:
    name: str
    kind: Kind
    ranges: list[Range]
    """In the feature's own order: numeric ranges left to right, categories by frequency, missing last."""

    @property
    def worst(self) -> float:
        return max((r.rate for r in self.ranges if r.rows >= MIN_RANGE_ROWS), default=0.0)


@dataclass(frozen=True)
class ShadowReport:
    """The disagreement section of the drift report and the `shadow` object of its JSON."""

    shadow_version: str
    production_versions: list[str]
    counts: ShadowCounts
    versions: dict[str, ShadowCounts]
    features: list[FeatureDisagreement]

    def top_ranges(self, limit: int = TOP_RANGES) -> list[Range]:
        ranked = [r for f in self.features for r in f.ranges if r.rows >= MIN_RANGE_ROWS and r.disagreeing]
        return sorted(ranked, key=lambda r: (-r.rate, -r.rows, r.feature, r.label))[:limit]

    def as_dict(self) -> dict[str, Any]:
        return {
            "shadow_version": self.shadow_version,
            "production_versions": self.production_versions,
            **self.counts.as_dict(),
            "versions": {version: counts.as_dict() for version, counts in self.versions.items()},
            "top_ranges": [r.as_dict() for r in self.top_ranges()],
        }


def _number(value: float) -> str:
    return f"{value:.4g}"


def _numeric_ranges(name: str, values: pd.Series, disagree: np.ndarray) -> list[Range]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~np.isnan(numbers)
    ranges = []
    if present.any():
        edges = np.unique(np.quantile(numbers[present], np.linspace(0, 1, DECILES + 1)))
        if edges.size == 1:
            edges = np.array([edges[0], edges[0]])
        bins = np.clip(np.searchsorted(edges, numbers[present], side="right") - 1, 0, edges.size - 2)
        for index in range(edges.size - 1):
            inside = bins == index
            closing = "]" if index == edges.size - 2 else ")"
            label = f"[{_number(edges[index])}, {_number(edges[index + 1])}{closing}"
            ranges.append(Range(name, label, int(inside.sum()), int(disagree[present][inside].sum())))
    if not present.all():
        ranges.append(Range(name, MISSING, int((~present).sum()), int(disagree[~present].sum())))
    return [r for r in ranges if r.rows]


def _categorical_ranges(name: str, values: pd.Series, disagree: np.ndarray) -> list[Range]:
    labels = values.astype(object).where(values.notna(), None)
    text = np.array([MISSING if v is None else str(v) for v in labels], dtype=object)
    frequent = pd.Series(text[text != MISSING]).value_counts().index[:SHOWN_CATEGORIES].tolist()
    shown = np.where(np.isin(text, frequent) | (text == MISSING), text, OTHER)
    order = [*frequent, OTHER, MISSING]
    return [
        Range(name, c, int((shown == c).sum()), int(disagree[shown == c].sum())) for c in order if (shown == c).any()
    ]


def shadow_report(frame: pd.DataFrame, kinds: Mapping[str, Kind], tolerance: Tolerance) -> ShadowReport | None:
    """The disagreement section of captured rows that carry shadow output; None when none does."""
    if not shadow.has_shadow(frame):
        return None
    for column in shadow.COLUMNS:
        if column not in frame.columns:
            frame = frame.assign(**{column: None})
    versions = frame[shadow.SHADOW_VERSION].dropna().astype(str)
    by_version = {
        version: shadow.count(frame[frame[shadow.SHADOW_VERSION].astype(str) == version], tolerance)
        for version in versions.value_counts().index
    }
    studied = versions.value_counts().index[0]
    rows = frame[frame[shadow.SHADOW_VERSION].astype(str) == studied]
    rows = rows[shadow.compared_mask(rows)]
    disagree = ~shadow.agreeing(rows[shadow.PREDICTION], rows[shadow.SHADOW_PREDICTION], tolerance)
    features = [
        FeatureDisagreement(
            name,
            kind,
            (_numeric_ranges if kind == "numeric" else _categorical_ranges)(name, rows[name], disagree),
        )
        for name, kind in kinds.items()
        if name in rows.columns
    ]
    production = sorted(rows[shadow.MODEL_VERSION].dropna().astype(str).unique().tolist())
    return ShadowReport(studied, production, by_version[studied], by_version, features)
