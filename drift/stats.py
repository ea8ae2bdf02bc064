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

from drift.sketch import Sketch, categorical_sketch, numeric_sketch

Kind = Literal["numeric", "categorical"]

KS_EXACT_MAX_ROWS = 10_000
"""`ks_2samp(method="auto")` computes exact p-values up to this many rows a side."""
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
    sketch: Sketch | None = None
    """What the report draws: densities or shares per bin (None when neither side has a value)."""


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def ks_statistic(reference: NDArray[np.float64], current: NDArray[np.float64]) -> float:
    """The largest gap between the two empirical CDFs of two sorted arrays, exactly as `ks_2samp` computes it.

    The sorted sides are merged by one stable argsort (two sorted runs: a linear merge); the CDFs are
    compared after the last of each run of equal values. About four times faster than `ks_2samp`'s
    two binary searches of every value at 100,000 rows a side.
    """
    both = np.concatenate([reference, current])
    order = np.argsort(both, kind="stable")
    values = both[order]
    below_reference = np.cumsum(order < reference.size)
    below_current = np.arange(1, both.size + 1) - below_reference
    last = np.append(values[1:] != values[:-1], True)
    gaps = below_reference[last] / reference.size - below_current[last] / current.size
    return float(np.abs(gaps).max())


def ks_test(reference: NDArray[np.float64], current: NDArray[np.float64], *, presorted: bool = False) -> TestOutcome:
    """KS on values without NaN; not testable (None) when either side is empty.

    Up to `KS_EXACT_MAX_ROWS` a side this is `ks_2samp(method="auto")`, which computes the exact
    p-value there; above, the statistic comes from `ks_statistic` and the p-value from the same
    distribution `ks_2samp` uses in that range (`kstwo.sf(D, round(n m / (n + m)))`).
    """
    if reference.size == 0 or current.size == 0:
        return TestOutcome("ks", None, None, 0.0)
    if max(reference.size, current.size) <= KS_EXACT_MAX_ROWS:
        result = stats.ks_2samp(reference, current, method="auto")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        if not presorted:
            reference, current = np.sort(reference), np.sort(current)
        statistic = ks_statistic(reference, current)
        effective = reference.size * current.size / (reference.size + current.size)
        p_value = float(np.clip(stats.kstwo.sf(statistic, np.round(effective)), 0.0, 1.0))
    return TestOutcome("ks", statistic, _finite_or_none(p_value), statistic)


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
    ref_sorted, cur_sorted = np.sort(reference[~ref_missing]), np.sort(current[~cur_missing])
    distribution = ks_test(ref_sorted, cur_sorted, presorted=True)
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
        numeric_sketch(ref_sorted, cur_sorted),
    )


def category_counts(values: pd.Series) -> pd.Series:
    """Rows per category, keyed by the value as text; missing values count as `<missing>`.

    Counted on the column as it is (pyarrow-backed text counts without a Python object per row), then
    the few distinct values are turned into labels, so `1` in the reference and `"1"` in the capture
    are one category.
    """
    counts = values.value_counts(dropna=False, sort=False)
    labels = [MISSING_LABEL if _is_missing(value) else str(value) for value in counts.index]
    return pd.Series(counts.to_numpy(dtype=np.int64), index=labels).groupby(level=0, sort=False).sum()


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def category_table(reference: pd.Series, current: pd.Series) -> tuple[list[str], NDArray[np.int64]]:
    """Categories (union of both sides, most frequent first) and the 2 x k table of their counts."""
    counts = pd.concat([category_counts(reference), category_counts(current)], axis=1).fillna(0).sort_index()
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    if len(counts) > MAX_CATEGORIES:
        head, tail = counts.iloc[: MAX_CATEGORIES - 1], counts.iloc[MAX_CATEGORIES - 1 :]
        counts = pd.concat([head, pd.DataFrame([tail.sum()], index=[OTHER_LABEL])])
    return [str(label) for label in counts.index], counts.to_numpy(dtype=np.int64).T


def compare_categorical(name: str, reference: pd.Series, current: pd.Series) -> FeatureComparison:
    """Chi-square on the contingency table of reference and current category counts."""
    labels, table = category_table(reference, current)
    return FeatureComparison(
        name,
        "categorical",
        contingency_test(table),
        None,
        float(reference.isna().mean()) if len(reference) else 0.0,
        float(current.isna().mean()) if len(current) else 0.0,
        categorical_sketch(labels, table),
    )


def compare(name: str, kind: Kind, reference: pd.Series, current: pd.Series) -> FeatureComparison:
    """The comparison that fits the feature's kind."""
    if kind == "numeric":
        return compare_numeric(name, numeric_values(reference), numeric_values(current))
    return compare_categorical(name, reference, current)


def numeric_values(values: pd.Series) -> NDArray[np.float64]:
    """float64 values with NaN for missing ones (nullable integers and pandas NA included)."""
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
