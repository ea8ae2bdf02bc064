"""Dashboard row for the drift job's last run, as pushed to the Pushgateway."""

from __future__ import annotations

from monitoring.grafana.panels import (
    MODEL,
    Panel,
    row,
    stat,
    target,
    thresholds,
    timeseries,
    value_text,
)


def drift_panels() -> list[Panel]:
    return [
        row("Drift"),
        timeseries(
            "Drift p-values per feature",
            "p-value of each feature's test in the last run (log scale; "
            "small means the live inputs differ from the reference).",
            [target(f"drift_p_value{{{MODEL}}}", "{{feature}} ({{test}})")],
            log_scale=True,
        ),
        timeseries(
            "Drift statistic per feature",
            "Test statistic of each feature in the last run.",
            [target(f"drift_statistic{{{MODEL}}}", "{{feature}} ({{test}})")],
        ),
        stat(
            "Drift detected",
            "Verdict of the last drift check.",
            [target(f"max(drift_detected{{{MODEL}}})", instant=True)],
            width=5,
            mappings=value_text({"0": ("no drift", "green"), "1": ("drift", "red")}),
        ),
        stat(
            "Share of drifted features",
            "Features flagged after correction / all features.",
            [target(f"max(drift_share_of_drifted_features{{{MODEL}}})", instant=True)],
            unit="percentunit",
            width=5,
            thresholds=thresholds((None, "green"), (0.0001, "orange"), (0.3, "red")),
        ),
        stat(
            "Since last drift run",
            "Alert after two schedule periods (2 d by default).",
            [target(f"time() - max(drift_last_run_timestamp_seconds{{{MODEL}}})", instant=True)],
            unit="s",
            width=5,
            thresholds=thresholds((None, "green"), (129600, "orange"), (172800, "red")),
        ),
        stat(
            "Rows compared",
            "Rows in the reference sample and in the current window.",
            [
                target(f"max(drift_reference_rows{{{MODEL}}})", "reference", instant=True),
                target(f"max(drift_current_rows{{{MODEL}}})", "current", instant=True),
            ],
            width=5,
            thresholds=thresholds((None, "blue")),
        ),
        stat(
            "Retraining",
            "Whether the last drift check started a retraining run.",
            [target(f"max(drift_retrain_triggered{{{MODEL}}})", instant=True)],
            width=4,
            mappings=value_text({"0": ("not triggered", "green"), "1": ("triggered", "orange")}),
        ),
        timeseries(
            "Drifted features",
            "Features flagged in each run (1 = drifted after correction).",
            [target(f"drift_feature_detected{{{MODEL}}} == 1", "{{feature}}")],
            bars=True,
            width=24,
        ),
    ]
