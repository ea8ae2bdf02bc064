"""The statistics of the drift job at function level: error rates, power, categories, missing values."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drift.stats import category_table, compare_categorical, compare_numeric, contingency_test
from drift.verdict import Thresholds, correct, decide

ALPHA = 0.05
NO_FLOORS = Thresholds(alpha=ALPHA, correction="bonferroni", ks_min_statistic=0.0, min_distance=0.0)


def _numeric_run(reference: np.ndarray, current: np.ndarray, thresholds: Thresholds) -> list[bool]:
    """Drift flags of one run over the features in the columns of the two matrices."""
    comparisons = [compare_numeric(f"f{j}", reference[:, j], current[:, j]) for j in range(reference.shape[1])]
    return [v.drifted for v in decide(comparisons, thresholds)]


def test_family_wise_false_positive_rate_with_bonferroni_stays_at_alpha() -> None:
    """200 runs of 10 unchanged features (two with 5% missing values): P(any flag) <= alpha + 2 SE.

    Floors are off, so this measures the tests and the correction alone.
    """
    rng = np.random.default_rng(20261122)
    trials, n, features = 200, 1_000, 10
    false_alarms = 0
    for _ in range(trials):
        reference, current = rng.normal(size=(n, features)), rng.normal(size=(n, features))
        for data in (reference, current):
            data[:, :2][rng.random((n, 2)) < 0.05] = np.nan
        false_alarms += any(_numeric_run(reference, current, NO_FLOORS))
    rate = false_alarms / trials
    bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / trials)
    print(f"family-wise false-positive rate: {rate:.3f} over {trials} runs (bound {bound:.3f})")
    assert rate <= bound


def test_without_correction_the_family_wise_rate_is_far_above_alpha() -> None:
    """The counterpart that shows the correction is doing the work: uncorrected, 10 tests flag ~40%."""
    rng = np.random.default_rng(7)
    trials, n, features = 100, 1_000, 10
    uncorrected = Thresholds(alpha=ALPHA, correction="none", ks_min_statistic=0.0, min_distance=0.0)
    rate = np.mean(
        [
            any(_numeric_run(rng.normal(size=(n, features)), rng.normal(size=(n, features)), uncorrected))
            for _ in range(trials)
        ]
    )
    assert rate > 0.2


def test_power_for_a_quarter_sigma_shift_in_one_of_ten_features_at_5000_rows() -> None:
    rng = np.random.default_rng(11)
    trials, n, features = 100, 5_000, 10
    hits = wrong_flags = 0
    for _ in range(trials):
        reference, current = rng.normal(size=(n, features)), rng.normal(size=(n, features))
        current[:, 3] += 0.25
        flags = _numeric_run(reference, current, Thresholds())
        hits += flags[3]
        wrong_flags += sum(flags) - flags[3]
    print(f"power at 0.25 sigma, 5,000 rows, 10 features: {hits / trials:.2f}; other features flagged {wrong_flags}")
    assert hits / trials >= 0.95
    assert wrong_flags <= trials * (ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / trials))


def test_ks_floor_keeps_twentieth_sigma_shifts_and_ignores_smaller_ones() -> None:
    """The default floor (0.01): a 0.05σ shift (D≈0.02) at 100,000 rows a side is flagged; a 0.015σ
    shift (D≈0.006) at 1,000,000 rows a side is significant but below the floor, so it is not."""
    rng = np.random.default_rng(3)
    n = 100_000
    twentieth = compare_numeric("twentieth", rng.normal(size=n), rng.normal(size=n) + 0.05)
    tiny = compare_numeric("tiny", rng.normal(size=10 * n), rng.normal(size=10 * n) + 0.015)
    floored = decide([twentieth, tiny], Thresholds())
    unfloored = decide([twentieth, tiny], NO_FLOORS)
    assert [v.drifted for v in unfloored] == [True, True]
    assert [v.drifted for v in floored] == [True, False]


def test_unchanged_columns_stay_below_the_default_floor_at_the_default_sample_cap() -> None:
    """30 unchanged columns, 100,000 rows a side (the default `--max-rows`): none reaches D = 0.01."""
    rng = np.random.default_rng(4)
    n = 100_000
    statistics = [
        compare_numeric(f"f{j}", rng.normal(size=n), rng.normal(size=n)).distribution.statistic for j in range(30)
    ]
    assert max(s or 0.0 for s in statistics) < Thresholds().ks_min_statistic


def test_large_samples_get_the_statistic_and_p_value_of_ks_2samp() -> None:
    """Above 10,000 rows a side the statistic comes from one merge; it and the p-value match scipy exactly,
    ties and infinities included."""
    rng = np.random.default_rng(6)
    cases = [
        (rng.normal(size=20_000), rng.normal(size=15_000) + 0.03),
        (rng.integers(0, 20, 12_000).astype(float), rng.integers(0, 21, 30_000).astype(float)),
        (np.r_[np.round(rng.lognormal(size=11_000), 1), [np.inf] * 5], np.r_[[-np.inf] * 3, rng.lognormal(size=9_000)]),
    ]
    for reference, current in cases:
        expected = stats.ks_2samp(reference, current, method="auto")
        outcome = compare_numeric("x", reference, current).distribution
        assert outcome.statistic == float(expected.statistic)
        assert outcome.p_value == float(expected.pvalue)


def _categories(rng: np.random.Generator, shares: list[float], n: int) -> pd.Series:
    return pd.Series(rng.choice(["small", "medium", "large"], p=shares, size=n), dtype="str")


def test_a_category_mix_shift_is_detected_and_an_unchanged_mix_is_not() -> None:
    rng = np.random.default_rng(5)
    reference = _categories(rng, [0.33, 0.33, 0.34], 5_000)
    moved = compare_categorical("band", reference, _categories(rng, [0.38, 0.28, 0.34], 5_000))
    same = compare_categorical("band", reference, _categories(rng, [0.33, 0.33, 0.34], 5_000))
    verdicts = decide([moved, same], Thresholds())
    assert moved.distribution.test == "chi2"
    assert moved.distribution.distance == pytest.approx(0.05, abs=0.02)
    assert [v.drifted for v in verdicts] == [True, False]


def test_an_unseen_category_counts_and_one_category_on_both_sides_is_no_drift() -> None:
    reference = pd.Series(["a"] * 1_000, dtype="str")
    unseen = compare_categorical("c", reference, pd.Series(["a"] * 800 + ["b"] * 200, dtype="str"))
    single = compare_categorical("c", reference, pd.Series(["a"] * 300, dtype="str"))
    assert unseen.distribution.distance == pytest.approx(0.2)
    assert unseen.distribution.p_value is not None
    assert unseen.distribution.p_value < 1e-10
    assert (single.distribution.statistic, single.distribution.p_value) == (0.0, 1.0)


def test_the_contingency_test_does_not_treat_the_reference_as_exact() -> None:
    """Same mix, 10x more current rows than reference rows: a goodness-of-fit test against the reference
    shares rejects far too often here; the contingency table accounts for the reference's own noise."""
    rng = np.random.default_rng(17)
    p_values = []
    for _ in range(40):
        reference = _categories(rng, [0.2, 0.3, 0.5], 2_000)
        current = _categories(rng, [0.2, 0.3, 0.5], 20_000)
        p = compare_categorical("c", reference, current).distribution.p_value
        assert p is not None
        p_values.append(p)
    assert np.mean(np.array(p_values) < ALPHA) <= 0.2


def test_a_missing_value_share_shift_is_detected_with_otherwise_identical_values() -> None:
    rng = np.random.default_rng(9)
    values = rng.normal(size=5_000)
    current = values.copy()
    current[rng.random(5_000) < 0.1] = np.nan
    comparison = compare_numeric("x", values, current)
    (verdict,) = decide([comparison], Thresholds())
    assert comparison.distribution.p_value is not None
    assert comparison.distribution.p_value > 0.5
    assert comparison.missing is not None
    assert comparison.missing.p_value is not None
    assert comparison.missing.p_value < 1e-10
    assert verdict.drifted


def test_missing_values_in_a_category_column_are_a_category_of_their_own() -> None:
    reference = pd.Series(["a", "b"] * 1_000, dtype="str")
    current = pd.Series(["a", "b"] * 900 + [None] * 200, dtype="str")
    (verdict,) = decide([compare_categorical("c", reference, current)], Thresholds())
    assert verdict.comparison.current_missing_share == pytest.approx(0.1)
    assert verdict.drifted


@pytest.mark.parametrize(
    ("reference", "current", "drifted"),
    [
        (np.arange(1_000.0), np.full(1_000, np.nan), True),
        (np.full(1_000, np.nan), np.full(1_000, np.nan), False),
        (np.arange(1_000.0), np.r_[np.arange(900.0), np.full(100, np.nan)], True),
        (np.r_[np.arange(990.0), np.full(10, np.nan)], np.r_[np.arange(990.0), np.full(10, np.nan)], False),
    ],
    ids=["all-missing-now", "all-missing-both", "some-missing-now", "same-missing-share"],
)
def test_nan_never_gives_a_nan_p_value_or_a_silent_pass(
    reference: np.ndarray, current: np.ndarray, drifted: bool
) -> None:
    comparison = compare_numeric("x", reference, current)
    (verdict,) = decide([comparison], Thresholds())
    outcomes = [comparison.distribution] + ([comparison.missing] if comparison.missing else [])
    for outcome in outcomes:
        assert outcome.p_value is None or math.isfinite(outcome.p_value)
        assert outcome.statistic is None or math.isfinite(outcome.statistic)
    assert verdict.drifted is drifted
    json.dumps([o.__dict__ for o in outcomes], allow_nan=False)


def test_corrections_order_bonferroni_above_bh_above_none() -> None:
    p_values = [0.001, 0.01, 0.02, 0.04, 0.3]
    bonferroni, bh, none = (correct(p_values, method) for method in ("bonferroni", "bh", "none"))
    assert none == p_values
    assert bonferroni == pytest.approx([0.005, 0.05, 0.1, 0.2, 1.0])
    assert all(b <= f for b, f in zip(bh, bonferroni, strict=True))
    assert all(b >= n for b, n in zip(bh, none, strict=True))


def test_an_empty_side_is_not_testable_rather_than_nan() -> None:
    outcome = contingency_test(np.array([[5, 5], [0, 0]], dtype=np.int64))
    assert outcome.p_value is None
    (verdict,) = decide([compare_numeric("x", np.arange(10.0), np.array([]))], Thresholds())
    assert verdict.p_value_corrected is None
    assert not verdict.drifted


def test_categories_are_counted_by_their_text_whatever_the_dtype() -> None:
    reference = pd.Series([1, 2, 2, None], dtype="Int64")
    current = pd.Series(["2", "3", None, None], dtype="str")
    labels, table = category_table(reference, current)
    counts = dict(zip(labels, table.T.tolist(), strict=True))
    assert counts == {"2": [2, 1], "<missing>": [1, 2], "1": [1, 0], "3": [0, 1]}
    assert labels[:2] == ["2", "<missing>"]  # most frequent first, ties by label
