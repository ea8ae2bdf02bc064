"""The metric names the dashboard and the alerts may use: SPEC "Metrics", in one place.

The predictor's `/metrics` and the drift job's Pushgateway push are held to this list by tests, and the
Grafana dashboard and `alerts.yml` may reference nothing else (plus Prometheus' own `up`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["counter", "gauge", "histogram"]
Source = Literal["predictor", "drift", "prometheus"]

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
TARGET_LABELS = ("job", "instance")
"""Labels Prometheus attaches to every scraped series (the Pushgateway's series bring their own `job`)."""


@dataclass(frozen=True)
class Metric:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    source: Source
    help: str

    def series_names(self) -> tuple[str, ...]:
        """Names of the series Prometheus stores: a histogram is `_bucket`, `_sum` and `_count`."""
        if self.type == "histogram":
            return tuple(self.name + suffix for suffix in HISTOGRAM_SUFFIXES)
        return (self.name,)


_DRIFT_FEATURE_TEST = ("model", "version", "feature", "test")
_SHADOW_PAIR = ("model", "version", "shadow_version")

METRICS: tuple[Metric, ...] = (
    Metric(
        "http_requests_total",
        "counter",
        ("route", "method", "status"),
        "predictor",
        "HTTP requests answered, by route template, method and status code.",
    ),
    Metric(
        "http_request_duration_seconds",
        "histogram",
        ("route", "method"),
        "predictor",
        "Time from request received to response sent.",
    ),
    Metric("http_requests_in_flight", "gauge", (), "predictor", "Requests being handled right now."),
    Metric(
        "model_inference_duration_seconds",
        "histogram",
        ("model", "version"),
        "predictor",
        "Time spent in the model's predict call (one call may serve a batch of requests).",
    ),
    Metric("model_batch_rows", "histogram", ("model",), "predictor", "Rows per model call."),
    Metric("model_predictions_total", "counter", ("model", "version"), "predictor", "Rows predicted."),
    Metric(
        "model_abandoned_calls_total",
        "counter",
        ("model", "version"),
        "predictor",
        "Model calls left running in their thread after outliving REQUEST_TIMEOUT_S (every request answered 504).",
    ),
    Metric(
        "model_abandoned_threads",
        "gauge",
        ("model",),
        "predictor",
        "Abandoned model calls still running; at 4 (MAX_ABANDONED) predictions answer 503 until one returns.",
    ),
    Metric(
        "model_info",
        "gauge",
        ("model", "alias", "version", "run_id", "runtime"),
        "predictor",
        "1 for each version serving now; runtime says what executes it (sklearn, onnxruntime, pyfunc).",
    ),
    Metric(
        "model_errors_total",
        "counter",
        ("model", "version"),
        "predictor",
        "Model calls that raised on input the signature accepted (answered 500; 400 without a signature).",
    ),
    Metric(
        "model_reloads_total",
        "counter",
        ("model", "result"),
        "predictor",
        "Attempts to load a new version, result=success|failure.",
    ),
    Metric(
        "model_last_reload_timestamp_seconds",
        "gauge",
        ("model",),
        "predictor",
        "Unix time of the last successful load.",
    ),
    Metric(
        "model_registry_errors_total",
        "counter",
        (),
        "predictor",
        "Failed calls to the MLflow registry (alias resolution, downloads).",
    ),
    Metric("model_ready", "gauge", ("model",), "predictor", "1 while the model has a version serving, else 0."),
    Metric(
        "model_alias_missing",
        "gauge",
        ("model",),
        "predictor",
        "1 when the followed alias was deleted and the last loaded version is kept.",
    ),
    # --- memory budget (issue 17; service/budgeted_loading.py) ---
    Metric(
        "model_memory_bytes",
        "gauge",
        ("model", "version"),
        "predictor",
        "Memory a loaded version holds (its own objects, measured after its load; 0 once unloaded).",
    ),
    Metric("model_unloads_total", "counter", ("model",), "predictor", "Models unloaded to stay within the budget."),
    Metric("model_cold_loads_total", "counter", ("model",), "predictor", "Calls that waited for their model to load."),
    Metric(
        "model_cold_load_seconds", "histogram", ("model",), "predictor", "Time a call waited for its model to load."
    ),
    Metric("capture_rows_total", "counter", (), "predictor", "Input rows recorded for drift detection."),
    Metric(
        "capture_dropped_rows_total",
        "counter",
        (),
        "predictor",
        "Input rows that should have been recorded but were dropped (queue full, write error).",
    ),
    Metric(
        "capture_write_errors_total",
        "counter",
        (),
        "predictor",
        "Capture files that could not be written (their rows are kept and retried).",
    ),
    Metric("drift_statistic", "gauge", _DRIFT_FEATURE_TEST, "drift", "Test statistic per feature."),
    Metric("drift_p_value", "gauge", _DRIFT_FEATURE_TEST, "drift", "p-value per feature (uncorrected)."),
    Metric(
        "drift_feature_detected",
        "gauge",
        ("model", "version", "feature"),
        "drift",
        "1 if the feature drifted after multiple-testing correction.",
    ),
    Metric("drift_detected", "gauge", ("model", "version"), "drift", "1 if the model's inputs drifted."),
    Metric("drift_share_of_drifted_features", "gauge", ("model",), "drift", "Share of features that drifted (0..1)."),
    Metric("drift_reference_rows", "gauge", ("model",), "drift", "Rows in the reference sample."),
    Metric("drift_current_rows", "gauge", ("model",), "drift", "Captured rows in the current window."),
    Metric(
        "drift_last_run_timestamp_seconds", "gauge", ("model",), "drift", "Unix time of the last drift check that ran."
    ),
    Metric("drift_retrain_triggered", "gauge", ("model",), "drift", "1 if the last check started retraining."),
    # --- shadow scoring (issue 18; service/shadow_metrics.py) ---
    Metric(
        "shadow_compared_rows_total",
        "counter",
        _SHADOW_PAIR,
        "predictor",
        "Rows scored by both the production and the shadow version.",
    ),
    Metric(
        "shadow_disagreeing_rows_total",
        "counter",
        _SHADOW_PAIR,
        "predictor",
        "Compared rows where the shadow version answers otherwise.",
    ),
    Metric("shadow_absolute_difference", "histogram", _SHADOW_PAIR, "predictor", "Regressors: |production - shadow|."),
    Metric(
        "shadow_probability_distance",
        "histogram",
        _SHADOW_PAIR,
        "predictor",
        "Total-variation distance between the two versions' class probabilities.",
    ),
    Metric(
        "shadow_errors_total", "counter", ("model", "shadow_version"), "predictor", "Rows the shadow failed to score."
    ),
    Metric("shadow_dropped_rows_total", "counter", ("model",), "predictor", "Rows not shadowed: the queue was full."),
    Metric(
        "shadow_inference_duration_seconds",
        "histogram",
        ("model", "shadow_version"),
        "predictor",
        "Time inside the shadow version's model call.",
    ),
    # --- end shadow scoring ---
    Metric("drift_check_failed", "gauge", ("model",), "drift", "1 if the model's last drift check could not run."),
    Metric("up", "gauge", (), "prometheus", "1 if Prometheus' last scrape of the target succeeded."),
)


def by_series_name() -> dict[str, Metric]:
    """Every stored series name (histogram suffixes included) mapped to its metric."""
    return {series: metric for metric in METRICS for series in metric.series_names()}


def series_labels(series: str) -> frozenset[str]:
    """Labels a stored series may carry: its own, the target's, and `le` on histogram buckets."""
    metric = by_series_name()[series]
    extra = ("le",) if series.endswith("_bucket") and metric.type == "histogram" else ()
    return frozenset(metric.labels + TARGET_LABELS + extra)
