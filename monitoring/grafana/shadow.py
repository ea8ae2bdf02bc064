"""Dashboard row for shadow scoring (service/shadow.py): how the shadow version (e.g. the Challenger)
answers the same live requests as the version serving them."""

from __future__ import annotations

from monitoring.grafana.panels import MODEL, RATE, Panel, quantiles, row, target, timeseries

PAIR = "version, shadow_version"
PAIR_LEGEND = "v{{version}} vs v{{shadow_version}}"


def shadow_panels() -> list[Panel]:
    return [
        row("Shadow"),
        timeseries(
            "Shadow disagreement",
            "Share of compared rows where the shadow version answers otherwise (another label; a value beyond "
            "SHADOW_ATOL + SHADOW_RTOL x |production|), per production and shadow version.",
            [
                target(
                    f"sum by ({PAIR}) (rate(shadow_disagreeing_rows_total{{{MODEL}}}{RATE}))"
                    f" / sum by ({PAIR}) (rate(shadow_compared_rows_total{{{MODEL}}}{RATE}))",
                    PAIR_LEGEND,
                )
            ],
            unit="percentunit",
            limit=0.05,
        ),
        timeseries(
            "Shadow rows",
            "Rows compared, rows the shadow failed to score (it raised) and rows dropped (its queue was full).",
            [
                target(
                    f"sum by ({PAIR}) (rate(shadow_compared_rows_total{{{MODEL}}}{RATE}))", f"compared {PAIR_LEGEND}"
                ),
                target(
                    f"sum by (shadow_version) (rate(shadow_errors_total{{{MODEL}}}{RATE}))",
                    "errors v{{shadow_version}}",
                ),
                target(f"sum(rate(shadow_dropped_rows_total{{{MODEL}}}{RATE}))", "dropped"),
            ],
            unit="suffix: rows/s",
        ),
        timeseries(
            "Shadow probability distance",
            "Total-variation distance between the two versions' class probabilities (0 same, 1 disjoint).",
            quantiles("shadow_probability_distance", MODEL, qs=(0.5, 0.95)),
        ),
        timeseries(
            "Shadow absolute difference",
            "Regressors: |production - shadow| per row, in the target's unit.",
            quantiles("shadow_absolute_difference", MODEL, qs=(0.5, 0.95)),
        ),
        timeseries(
            "Shadow model call latency",
            "Time inside the shadow version's model call (a call may merge several requests).",
            quantiles("shadow_inference_duration_seconds", MODEL, by="shadow_version", qs=(0.5, 0.99)),
            unit="s",
        ),
    ]
