"""A batch's per-row values observed at once (service/shadow_counts.py) land in a Prometheus histogram as
observing them one by one would: it counts per bucket itself, with prometheus_client's own series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram

from service.shadow_counts import _observe_each
from service.shadow_metrics import DIFFERENCE_BUCKETS, DISTANCE_BUCKETS


def _samples(histogram: Histogram) -> dict[str, float]:
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in histogram.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


@pytest.mark.parametrize("buckets", [DIFFERENCE_BUCKETS, DISTANCE_BUCKETS])
@pytest.mark.parametrize("extra", [[], [math.nan]], ids=["finite", "with NaN"])
def test_a_batch_observed_at_once_is_the_histogram_of_one_by_one(
    buckets: tuple[float, ...], extra: list[float]
) -> None:
    rng = np.random.default_rng(0)
    edges = [0.0, *buckets, 1e9, math.inf]  # values on every bound, and past the last
    values = np.concatenate([rng.exponential(0.3, 300), edges, extra])
    one_by_one = Histogram("h", "h", ["model"], buckets=buckets, registry=CollectorRegistry())
    at_once = Histogram("h", "h", ["model"], buckets=buckets, registry=CollectorRegistry())
    for value in values.tolist():
        one_by_one.labels("m").observe(value)
    _observe_each(at_once.labels("m"), values)
    expected, got = _samples(one_by_one), _samples(at_once)
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, nan_ok=True), name


def test_an_empty_batch_observes_nothing() -> None:
    histogram = Histogram("h", "h", ["model"], buckets=DISTANCE_BUCKETS, registry=CollectorRegistry())
    _observe_each(histogram.labels("m"), np.array([]))
    _observe_each(histogram.labels("m"), None)
    assert all(value == 0 for value in _samples(histogram).values())
