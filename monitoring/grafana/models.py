"""Dashboard row comparing the served models side by side, one series or tile per model.

The `$model` variable selects models (several, or All); the rows below it (Model, Drift) then sum or
split over the same selection. With a hundred models, prefer picking a few: every panel here draws one
series per model.
"""

from __future__ import annotations

from monitoring.grafana.panels import (
    JOB,
    MODEL,
    RATE,
    Panel,
    row,
    stat,
    state_timeline,
    target,
    thresholds,
    timeseries,
    value_text,
)

MODEL_JOB = f"{JOB}, {MODEL}"
JOB_LABEL = "instance"


def models_panels() -> list[Panel]:
    return [
        row("Models"),
        timeseries(
            "Rows predicted per model",
            "Rows predicted per second, by model (all versions and replicas).",
            [target(f"sum by (model) (rate(model_predictions_total{{{MODEL}}}{RATE}))", "{{model}}")],
            unit="suffix: rows/s",
            width=8,
        ),
        timeseries(
            "Inference time p99 per model",
            "99th percentile of the time in the model call, by model.",
            [
                target(
                    "histogram_quantile(0.99, sum by (model, le) "
                    f"(rate(model_inference_duration_seconds_bucket{{{MODEL}}}{RATE})))",
                    "{{model}}",
                )
            ],
            unit="s",
            width=8,
        ),
        timeseries(
            "Model errors per model",
            "Model calls that raised on accepted input, per second, by model (answered 500).",
            [target(f"sum by (model) (rate(model_errors_total{{{MODEL}}}{RATE}))", "{{model}}")],
            width=8,
        ),
        state_timeline(
            "Ready per model",
            "Replicas serving each model (model_ready summed over replicas): 0 while a model has no version "
            "serving (not loaded yet, or failed to load: AliasserveModelNotServing).",
            [target(f"sum by (model) (model_ready{{{MODEL_JOB}}})", "{{model}}")],
        ),
        state_timeline(
            "Version served per model",
            "Version each model serves (model_info); a hand-over shows as a change of band.",
            [target(f"max by (model, version) (model_info{{{MODEL}}})", "{{model}} v{{version}}")],
        ),
        timeseries(
            "Memory per model",
            "Memory each model's loaded versions hold (model_memory_bytes, max over replicas); "
            "MODEL_MEMORY_BUDGET_MB caps their sum per process.",
            [target(f"max by (model) (sum by (model, {JOB_LABEL}) (model_memory_bytes{{{MODEL_JOB}}}))", "{{model}}")],
            unit="bytes",
            width=12,
        ),
        timeseries(
            "Unloads and cold loads per model",
            "Under MODEL_MEMORY_BUDGET_MB: models unloaded to make room, and calls that waited for their model "
            "to load again and the p99 of that wait in seconds.",
            [
                target(f"sum by (model) (rate(model_unloads_total{{{MODEL}}}{RATE}))", "unloads {{model}}"),
                target(f"sum by (model) (rate(model_cold_loads_total{{{MODEL}}}{RATE}))", "cold loads {{model}}"),
                target(
                    "histogram_quantile(0.99, sum by (model, le) "
                    f"(rate(model_cold_load_seconds_bucket{{{MODEL}}}{RATE})))",
                    "p99 cold load s {{model}}",
                ),
            ],
            width=12,
        ),
        stat(
            "Drift verdict per model",
            "Last drift check of each model: drift, no drift, or no tile when it had too little data.",
            [target(f"max by (model) (drift_detected{{{MODEL}}})", "{{model}}", instant=True)],
            width=12,
            mappings=value_text({"0": ("no drift", "green"), "1": ("drift", "red")}),
        ),
        stat(
            "Drift check failed per model",
            "Models whose last drift check could not run (no reference, registry error): the job checked "
            "the others and exited 1.",
            [target(f"max by (model) (drift_check_failed{{{MODEL}}})", "{{model}}", instant=True)],
            width=6,
            mappings=value_text({"0": ("checked", "green"), "1": ("failed", "red")}),
        ),
        stat(
            "Alias deleted per model",
            "Models whose followed alias is missing (the last version is kept serving).",
            [target(f"max by (model) (model_alias_missing{{{MODEL_JOB}}})", "{{model}}", instant=True)],
            width=6,
            thresholds=thresholds((None, "green"), (1, "red")),
            mappings=value_text({"0": ("alias present", "green"), "1": ("alias deleted", "red")}),
        ),
    ]
