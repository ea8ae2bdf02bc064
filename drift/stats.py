"""Two-sample tests of one feature: reference rows against the rows captured in the window.

Numeric features: Kolmogorov-Smirnov (`scipy.stats.ks_2samp`, exact up to 10,000 rows a side) on the
values that are present, and, when either side has missing values, a separate chi-square test of the
missing-value share. `ks_2samp` turns any NaN into p = NaN, and `NaN < alpha` is False: a column gone
all-NaN would pass silently, so NaN is removed first and its share tested on its own.

Categorical features: chi-square on the 2 x k contingency table of reference and current counts over
the union of categories (missing is a category of its own, unseen categories included). A
goodness-of-fit test against the reference shares would treat the reference as exact and flag unchanged
columns whenever the current side is much larger than the reference.

Every outcome also carries a `distance` on the probability scale, used as an effect-size floor by
`drift.verdict`: the KS statistic (largest gap between the two CDFs), the total variation distance
between category shares (largest gap in the probability of any set of categories), and the absolute
change of the missing-value share. All three answer "by how much did the probability of some event move".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

Kind = Literal["numeric", "categorical"]

MISSING_LABEL = "<missing>"
OTHER_LABEL = "<other>"
MAX_CATEGORIES = 50
"""Above this many categories the rarest are pooled into `<other>`: a chi-square over thousands of
near-empty cells (ids, free text) says nothing, and its expected counts break the approximation."""


@dataclass(frozen=True)
class TestOutcome:
    """One test; `p_value` and `statistic` are None when a side has nothing to test (never NaN)."""

    test: str
    statistic: float | None
    p_value: float | None
    distance: float


@dataclass(frozen=True)
class FeatureComparison:
    """The raw tests of one feature, before correction across the run."""

    name: str
    kind: Kind
    distribution: TestOutcome
    missing: TestOutcome | None
    reference_missing_share: float
    current_missing_share: float


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def ks_test(reference: NDArray[np.float64], current: NDArray[np.float64]) -> TestOutcome:
    """KS on values without NaN; not testable (None) when either side is empty."""
    if reference.size == 0 or current.size == 0:
        return TestOutcome("ks", None, None, 0.0)
    result = stats.ks_2samp(reference, current, method="auto")
    statistic = float(result.statistic)
    return TestOutcome("ks", statistic, _finite_or_none(result.pvalue), statistic)


def contingency_test(table: NDArray[np.int64], test: str = "chi2") -> TestOutcome:
    """Chi-square of independence on a 2 x k table of counts (row 0 reference, row 1 current).

    Columns empty on both sides are dropped; with fewer than two columns left there is nothing that
    could have moved (statistic 0, p 1). A side without rows is not testable.
    """
    table = table[:, table.sum(axis=0) > 0]
    totals = table.sum(axis=1)
    if (totals == 0).any():
        return TestOutcome(test, None, None, 0.0)
    shares = table / totals[:, None]
    distance = float(0.5 * np.abs(shares[0] - shares[1]).sum())
    if table.shape[1] < 2:
        return TestOutcome(test, 0.0, 1.0, distance)
    result = stats.chi2_contingency(table)
    return TestOutcome(test, float(result.statistic), _finite_or_none(result.pvalue), distance)


def compare_numeric(name: str, reference: NDArray[np.float64], current: NDArray[np.float64]) -> FeatureComparison:
    """KS on present values, plus the missing-share test when either side has missing values.

    Leaving the missing-share test out when no value is missing on either side keeps the correction
    honest: given that both sides hold no missing value, that test could not reject anyway.
    """
    ref_missing = np.isnan(reference)
    cur_missing = np.isnan(current)
    distribution = ks_test(reference[~ref_missing], current[~cur_missing])
    n_ref_missing, n_cur_missing = int(ref_missing.sum()), int(cur_missing.sum())
    missing = None
    if n_ref_missing or n_cur_missing:
        table = np.array(
            [[n_ref_missing, reference.size - n_ref_missing], [n_cur_missing, current.size - n_cur_missing]],
            dtype=np.int64,
        )
        missing = contingency_test(table, test="missing_share")
    return FeatureComparison(
        name,
        "numeric",
        distribution,
        missing,
        n_ref_missing / reference.size if reference.size else 0.0,
        n_cur_missing / current.size if current.size else 0.0,
    )


def category_labels(values: pd.Series) -> pd.Series:
    """Values as text labels, missing ones as `<missing>` (so they count as a category of their own)."""
    missing = values.isna().to_numpy()
    labels = values.astype(object).astype(str).to_numpy(dtype=object)
    labels[missing] = MISSING_LABEL
    return pd.Series(labels, dtype=object)


def category_table(reference: pd.Series, current: pd.Series) -> tuple[list[str], NDArray[np.int64]]:
    """Categories (union of both sides, most frequent first) and the 2 x k table of their counts."""
    counts = pd.concat(
        [category_labels(reference).value_counts(), category_labels(current).value_counts()], axis=1
    ).fillna(0)
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    if len(counts) > MAX_CATEGORIES:
        head, tail = counts.iloc[: MAX_CATEGORIES - 1], counts.iloc[MAX_CATEGORIES - 1 :]
        counts = pd.concat([head, pd.DataFrame([tail.sum()], index=[OTHER_LABEL])])
    return [str(label) for label in counts.index], counts.to_numpy(dtype=np.int64).T


def compare_categorical(name: str, reference: pd.Series, current: pd.Series) -> FeatureComparison:
    """Chi-square on the contingency table of reference and current category counts."""
    _, table = category_table(reference, current)
    return FeatureComparison(
        name,
        "categorical",
        contingency_test(table),
        None,
        float(reference.isna().mean()) if len(reference) else 0.0,
        float(current.isna().mean()) if len(current) else 0.0,
    )


def compare(name: str, kind: Kind, reference: pd.Series, current: pd.Series) -> FeatureComparison:
    """The comparison that fits the feature's kind."""
    if kind == "numeric":
        return compare_numeric(name, numeric_values(reference), numeric_values(current))
    return compare_categorical(name, reference, current)


def numeric_values(values: pd.Series) -> NDArray[np.float64]:
    """float64 values with NaN for missing ones (nullable integers and pandas NA included)."""
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
