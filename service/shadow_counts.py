"""What the shadow measured, counted twice: in Prometheus (service/shadow_metrics.py, across restarts and
replicas) and in memory per version pair, for `GET /model`'s live view of this process."""

from __future__ import annotations

from typing import Any

import numpy as np

from service.loaded_model import LoadedModel
from service.shadow_compare import Comparison
from service.shadow_metrics import ShadowMetrics


class ShadowCounts:
    def __init__(self, metrics: ShadowMetrics) -> None:
        self.metrics = metrics
        self.dropped_rows = 0
        self._pairs: dict[tuple[str, str], list[int]] = {}
        """(production version, shadow version) -> rows compared, disagreeing, failed."""
        self._series: dict[tuple[str, str, str], tuple[Any, Any, Any, Any]] = {}

    def compared(self, production: LoadedModel, shadow: LoadedModel, result: Comparison) -> None:
        compared, disagreeing, difference, distance = self._series_of(production, shadow)
        compared.inc(result.rows)
        disagreeing.inc(result.disagreeing)
        pair = self._pair(production.version, shadow.version)
        pair[0] += result.rows
        pair[1] += result.disagreeing
        _observe_each(difference, result.differences)
        _observe_each(distance, result.distances)

    def failed(self, production: LoadedModel, shadow: LoadedModel, rows: int) -> None:
        self.metrics.errors.labels(shadow.name, shadow.version).inc(rows)
        self._pair(production.version, shadow.version)[2] += rows

    def dropped(self, model: str, rows: int) -> None:
        self.metrics.dropped.labels(model).inc(rows)
        self.dropped_rows += rows

    def pairs(self) -> list[dict[str, Any]]:
        return [
            {
                "version": version,
                "shadow_version": shadow_version,
                "compared_rows": compared,
                "disagreeing_rows": disagreeing,
                "error_rows": failed,
            }
            for (version, shadow_version), (compared, disagreeing, failed) in list(self._pairs.items())
        ]

    def _pair(self, version: str, shadow_version: str) -> list[int]:
        if len(self._pairs) > 16 and (version, shadow_version) not in self._pairs:
            self._pairs.clear()  # versions come and go: forget the old pairs now and then
        return self._pairs.setdefault((version, shadow_version), [0, 0, 0])

    def _series_of(self, production: LoadedModel, shadow: LoadedModel) -> tuple[Any, Any, Any, Any]:
        """A version pair's series: `labels()` costs ~10 µs a call, and the shadow thread shares the GIL."""
        key = (production.name, production.version, shadow.version)
        series = self._series.get(key)
        if series is None:
            if len(self._series) > 16:
                self._series.clear()
            metrics = self.metrics
            series = self._series[key] = (
                metrics.compared.labels(*key),
                metrics.disagreeing.labels(*key),
                metrics.difference.labels(*key),
                metrics.distance.labels(*key),
            )
        return series


def _observe_each(series: Any, values: np.ndarray | None) -> None:
    """`series.observe(v)` for every v, done as one count per bucket: the shadow thread observes a whole
    batch's rows at once, and a Python call per row is GIL time the event loop waits for. What
    prometheus_client's `Histogram.observe` does per value (add to `_sum`; count in the first bucket whose
    upper bound is >= v; a NaN in no bucket), done for all values with numpy."""
    if values is None or not len(values):
        return
    values = np.asarray(values, dtype=np.float64).ravel()
    bounds = np.asarray(series._upper_bounds, dtype=np.float64)
    per_bucket = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds) + 1)
    series._sum.inc(float(values.sum()))
    for bucket, count in zip(series._buckets, per_bucket.tolist(), strict=False):
        if count:
            bucket.inc(count)
