"""From raw tests to a verdict: correction across every test of the run, effect-size floors, the decision.

A feature is drifted when one of its tests rejects after correction AND the shift is large enough to
matter. The floors exist because with 100,000 rows a side every test detects shifts nobody would act on.

`ks_min_statistic` (default 0.01): a mean shift of s standard deviations of a normal feature moves the
KS statistic to about 2Φ(s/2) - 1, i.e. D ≈ 0.010 for 0.025σ, 0.020 for 0.05σ, 0.04 for 0.1σ, 0.10 for
0.25σ. Measured here at 100,000 rows a side (100 trials each): no shift gives D ≤ 0.008, 0.025σ gives
D in 0.007-0.016, 0.05σ D in 0.016-0.027. A floor of 0.01 therefore flags every 0.05σ shift at the
default sample cap and ignores shifts below about 0.025σ, which KS alone flags once both sides hold a
few hundred thousand rows (`--max-rows` raised). At 100,000 rows a side the floor sits just above the
test's own Bonferroni critical value (≈ 0.0085 over 31 tests), so there the family-wise error rate is
the correction's work: an unchanged column reaches D = 0.01 by chance about once in 10,000 checks.
Below a few thousand rows the floor hardly matters (critical value ≈ 0.035 at 5,000 rows a side,
Bonferroni over 10 features). The earlier default, 0.03, ignored 0.05σ shifts.

`min_distance` (default 0.03) is the same idea for the chi-square tests: the total variation distance
between category shares, or the change of the missing-value share, must reach it. It is preferred to
Cramér's V because V depends on the ratio of reference to current rows (the same 5-point move gives
V ≈ 0.06 at 1:1 and 0.035 at 1:10), while the distance is on the same scale as the KS statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from drift.stats import FeatureComparison, TestOutcome

Correction = Literal["bonferroni", "bh", "none"]
CORRECTIONS: tuple[Correction, ...] = ("bonferroni", "bh", "none")


@dataclass(frozen=True)
class Thresholds:
    """Significance level, multiple-testing correction and effect-size floors of a run."""

    alpha: float = 0.05
    correction: Correction = "bonferroni"
    ks_min_statistic: float = 0.01
    min_distance: float = 0.03


@dataclass(frozen=True)
class FeatureVerdict:
    """A feature's comparison with the corrected p-values and the decision."""

    comparison: FeatureComparison
    p_value_corrected: float | None
    missing_p_value_corrected: float | None
    drifted: bool

    @property
    def name(self) -> str:
        return self.comparison.name


def correct(p_values: Sequence[float], method: Correction) -> list[float]:
    """Adjusted p-values: Bonferroni (family-wise error), Benjamini-Hochberg (false discovery rate), none."""
    if not p_values:
        return []
    values = np.asarray(p_values, dtype=np.float64)
    if method == "bonferroni":
        adjusted = np.minimum(values * values.size, 1.0)
    elif method == "bh":
        from scipy.stats import false_discovery_control

        adjusted = false_discovery_control(values, method="bh")
    else:
        adjusted = values
    return [float(p) for p in adjusted]


def _rejects(outcome: TestOutcome | None, corrected: float | None, floor: float, alpha: float) -> bool:
    return outcome is not None and corrected is not None and corrected < alpha and outcome.distance >= floor


def decide(comparisons: Sequence[FeatureComparison], thresholds: Thresholds) -> list[FeatureVerdict]:
    """Correct all testable p-values of the run together, then apply alpha and the floors per feature."""
    keys: list[tuple[int, str]] = []
    p_values: list[float] = []
    for index, comparison in enumerate(comparisons):
        for part, outcome in (("distribution", comparison.distribution), ("missing", comparison.missing)):
            if outcome is not None and outcome.p_value is not None:
                keys.append((index, part))
                p_values.append(outcome.p_value)
    corrected = dict(zip(keys, correct(p_values, thresholds.correction), strict=True))
    verdicts = []
    for index, comparison in enumerate(comparisons):
        distribution, missing = comparison.distribution, comparison.missing
        p_distribution, p_missing = corrected.get((index, "distribution")), corrected.get((index, "missing"))
        floor = thresholds.ks_min_statistic if distribution.test == "ks" else thresholds.min_distance
        drifted = _rejects(distribution, p_distribution, floor, thresholds.alpha) or _rejects(
            missing, p_missing, thresholds.min_distance, thresholds.alpha
        )
        verdicts.append(FeatureVerdict(comparison, p_distribution, p_missing, drifted))
    return verdicts


def share_drifted(verdicts: Sequence[FeatureVerdict]) -> float:
    """Share of the features that drifted (0 when there are none)."""
    return sum(v.drifted for v in verdicts) / len(verdicts) if verdicts else 0.0
