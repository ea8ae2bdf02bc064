"""The shadow's Prometheus metrics (service/shadow.py): how often, how far and how fast the shadow version
answers differently from the production version, per (model, production version, shadow version)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

DIFFERENCE_BUCKETS = (1e-6, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1000.0)
"""Absolute difference between the two versions' values (regressors), in the target's own unit."""
DISTANCE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
"""Total-variation distance between two probability vectors: 0 identical, 1 disjoint."""


class ShadowMetrics:
    """Created with the app's other metrics (`Metrics.shadow`), in the same registry."""

    def __init__(self, reg: CollectorRegistry | None, latency_buckets: Sequence[float]) -> None:
        pair = ["model", "version", "shadow_version"]
        self.compared = Counter(
            "shadow_compared_rows_total",
            "Rows scored by both the production and the shadow version.",
            pair,
            registry=reg,
        )
        self.disagreeing = Counter(
            "shadow_disagreeing_rows_total",
            "Compared rows where the versions disagree (another label; a value beyond SHADOW_ATOL/SHADOW_RTOL).",
            pair,
            registry=reg,
        )
        self.difference = Histogram(
            "shadow_absolute_difference",
            "Regressors: |production - shadow| per compared row.",
            pair,
            buckets=DIFFERENCE_BUCKETS,
            registry=reg,
        )
        self.distance = Histogram(
            "shadow_probability_distance",
            "Classifiers asked for probabilities: total-variation distance between the two vectors, per row.",
            pair,
            buckets=DISTANCE_BUCKETS,
            registry=reg,
        )
        self.errors = Counter(
            "shadow_errors_total",
            "Rows the shadow version failed to score (it raised); production answers are unaffected.",
            ["model", "shadow_version"],
            registry=reg,
        )
        self.dropped = Counter(
            "shadow_dropped_rows_total",
            "Rows not shadowed because the shadow queue was full (SHADOW_QUEUE_ROWS) or the service stopped.",
            ["model"],
            registry=reg,
        )
        self.duration = Histogram(
            "shadow_inference_duration_seconds",
            "Time inside the shadow version's model call (one batch).",
            ["model", "shadow_version"],
            buckets=latency_buckets,
            registry=reg,
        )
