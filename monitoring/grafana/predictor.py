"""Dashboard rows for the predictor: traffic, and the model it serves (version, batching, calls, capture)."""

from __future__ import annotations

from monitoring.grafana.panels import (
    JOB,
    MODEL,
    PREDICT,
    RATE,
    Panel,
    heatmap,
    quantiles,
    row,
    stat,
    state_timeline,
    target,
    thresholds,
    timeseries,
    value_text,
)


def traffic_panels() -> list[Panel]:
    return [
        row("Traffic"),
        timeseries(
            "Requests by route and status",
            "Requests per second, by route template and status code.",
            [target(f"sum by (route, status) (rate(http_requests_total{{{JOB}}}{RATE}))", "{{route}} {{status}}")],
            unit="reqps",
        ),
        timeseries(
            "Prediction latency",
            "Quantiles of /invocations and V2 infer latency, all replicas.",
            quantiles("http_request_duration_seconds", PREDICT),
            unit="s",
        ),
        timeseries(
            "5xx ratio",
            "Share of prediction requests answered 5xx (alert above 5 %).",
            [
                target(
                    f'sum(rate(http_requests_total{{{PREDICT}, status=~"5.."}}{RATE})) / '
                    f"sum(rate(http_requests_total{{{PREDICT}}}{RATE}))",
                    "5xx",
                )
            ],
            unit="percentunit",
            width=8,
        ),
        timeseries(
            "In flight",
            "Requests being handled right now, per replica.",
            [target(f"sum by (instance) (http_requests_in_flight{{{JOB}}})", "{{instance}}")],
            width=8,
        ),
        timeseries(
            "Replicas up and ready",
            "Scraped replicas (up) and replicas with every selected model serving.",
            [
                target(f"sum(up{{{JOB}}})", "up"),
                target(f"count(min by (instance) (model_ready{{{JOB}}}) == 1) or vector(0)", "ready"),
            ],
            width=8,
        ),
    ]


def model_panels() -> list[Panel]:
    return [
        row("Model"),
        state_timeline(
            "Served version",
            "Replicas serving each version (model_info): a rollout shows as a hand-over from one version to the next.",
            [target(f"count by (model, version) (model_info{{{MODEL}}})", "{{model}} v{{version}}")],
        ),
        timeseries(
            "Predictions by version",
            "Rows predicted per second, by model version.",
            [
                target(
                    f"sum by (model, version) (rate(model_predictions_total{{{MODEL}}}{RATE}))",
                    "{{model}} v{{version}}",
                )
            ],
            unit="suffix: rows/s",
        ),
        timeseries(
            "Model errors",
            "Model calls that raised on accepted input, per second, by model and version (answered 500).",
            [target(f"sum by (model, version) (rate(model_errors_total{{{MODEL}}}{RATE}))", "{{model}} v{{version}}")],
            width=24,
        ),
        timeseries(
            "Reloads",
            "Loads of a new version, by result (failures keep the old version serving).",
            [
                target(
                    f"sum by (model, result) (increase(model_reloads_total{{{JOB}, {MODEL}}}{RATE}))",
                    "{{model}} {{result}}",
                )
            ],
            bars=True,
            width=8,
        ),
        timeseries(
            "Registry errors",
            "Failed calls to the MLflow registry per second.",
            [target(f"sum by (instance) (rate(model_registry_errors_total{{{JOB}}}{RATE}))", "{{instance}}")],
            width=8,
        ),
        stat(
            "Alias deleted",
            "1 while the followed alias of a selected model is missing and the last version is kept.",
            [target(f"max(model_alias_missing{{{JOB}, {MODEL}}})", instant=True)],
            width=4,
            height=8,
            mappings=value_text({"0": ("alias present", "green"), "1": ("alias deleted", "red")}),
        ),
        stat(
            "Since last reload",
            "Time since a replica last loaded a version of a selected model.",
            [target(f"time() - max(model_last_reload_timestamp_seconds{{{JOB}, {MODEL}}})", instant=True)],
            unit="s",
            width=4,
            height=8,
            thresholds=thresholds((None, "blue")),
        ),
        heatmap(
            "Batch size distribution",
            "Model calls by rows per call (model_batch_rows buckets).",
            [target(f"sum by (le) (increase(model_batch_rows_bucket{{{MODEL}}}{RATE}))", "{{le}}", heatmap=True)],
        ),
        timeseries(
            "Batch size quantiles",
            "Rows per model call: p50, p99 and the mean.",
            [
                *quantiles("model_batch_rows", MODEL, qs=(0.5, 0.99)),
                target(
                    f"sum(rate(model_batch_rows_sum{{{MODEL}}}{RATE})) / "
                    f"sum(rate(model_batch_rows_count{{{MODEL}}}{RATE}))",
                    "mean",
                ),
            ],
        ),
        *model_call_panels(),
        timeseries(
            "Capture",
            "Rows recorded for drift detection and rows dropped, per second.",
            [
                target(f"sum(rate(capture_rows_total{{{JOB}}}{RATE}))", "captured"),
                target(f"sum(rate(capture_dropped_rows_total{{{JOB}}}{RATE}))", "dropped"),
            ],
            unit="suffix: rows/s",
            width=16,
        ),
        timeseries(
            "Capture write errors",
            "Capture files that failed to write, per interval. Their rows are kept and retried; "
            "rows are dropped only once the queue is full (Capture).",
            [target(f"sum by (instance) (increase(capture_write_errors_total{{{JOB}}}{RATE}))", "{{instance}}")],
            bars=True,
            width=8,
        ),
    ]


def model_call_panels() -> list[Panel]:
    """How long model calls take, and the calls that outlived REQUEST_TIMEOUT_S and were left running."""
    return [
        timeseries(
            "Inference time",
            "Time in the model call, by model and version (p50, p99).",
            quantiles("model_inference_duration_seconds", MODEL, by="model, version", qs=(0.5, 0.99)),
            unit="s",
            width=8,
        ),
        timeseries(
            "Abandoned model calls",
            "Model calls that outlived REQUEST_TIMEOUT_S (their requests answered 504) and were left running "
            "in their thread, per interval and version.",
            [target(f"sum by (version) (increase(model_abandoned_calls_total{{{MODEL}}}{RATE}))", "v{{version}}")],
            bars=True,
            width=8,
        ),
        timeseries(
            "Abandoned calls still running",
            "Abandoned model calls that have not returned, per replica. At 4 no spare thread is left: "
            "predictions answer 503 until one returns.",
            [target(f"sum by (instance) (model_abandoned_threads{{{JOB}}})", "{{instance}}")],
            limit=4,
            width=8,
        ),
        timeseries(
            "Replicas not ready",
            "Scraped replicas whose /health/ready answers 503 (model_ready 0): no model loaded yet, or model calls "
            "stuck (with abandoned calls at 4). Stuck for STUCK_LIVENESS_S, the pod is restarted.",
            [target(f"count(min by (instance) (model_ready{{{JOB}}}) == 0) or vector(0)", "not ready")],
            width=24,
        ),
    ]
