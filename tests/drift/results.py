"""A drift result built from real comparisons, for tests of what is made from results (push, report)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from drift.capture_reader import Window
from drift.result import DriftResult
from drift.stats import compare_categorical, compare_numeric
from drift.verdict import Thresholds, decide


def drift_result(current_rows: int = 2_000) -> DriftResult:
    """A drift result of model `demo-push` version 3: mean_radius drifted, mean_texture and size_band not."""
    rng = np.random.default_rng(0)
    comparisons = [
        compare_numeric("mean_radius", rng.normal(size=2_000), rng.normal(size=2_000) + 1.0),
        compare_numeric("mean_texture", rng.normal(size=2_000), rng.normal(size=2_000)),
        compare_categorical("size_band", pd.Series(["a", "b"] * 1_000), pd.Series(["a", "b"] * 1_000)),
    ]
    end = datetime(2026, 3, 1, tzinfo=UTC)
    result = DriftResult(
        model="demo-push",
        model_version="3",
        model_uri="models:/demo-push@Production",
        window=Window.ending(end, timedelta(hours=24)),
        window_length="24h",
        thresholds=Thresholds(),
        min_rows=500,
        reference_rows=2_000,
        current_rows=current_rows,
        window_rows=current_rows,
        corrupt_files=[],
        mismatched_files=0,
    )
    result.features = decide(comparisons, result.thresholds)
    result.retrain = {"triggered": True, "status": "finished"}
    return result
