"""Push the check's outcome to a Prometheus Pushgateway, grouped by `job="drift"` and `model`.

`push_to_gateway` replaces the whole group (HTTP PUT), so features that disappeared from a model, or a
verdict that could not be made this time, do not linger from an earlier run. With too little data only
the row counts, the timestamp and the retrain flag are pushed: `drift_detected` is absent, not a guess.
A model whose check could not run (a job over several models goes on with the others) sets only
`drift_check_failed` to 1 (HTTP POST: the group's other metrics, the last verdict, stay); its next
successful check sets it back to 0.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, pushadd_to_gateway

from drift.result import DriftResult
from drift.verdict import FeatureVerdict

logger = logging.getLogger(__name__)

JOB = "drift"


def _feature_samples(
    verdicts: list[FeatureVerdict], statistic: Gauge, p_value: Gauge, detected: Gauge, model: str, version: str
) -> None:
    for verdict in verdicts:
        outcome = verdict.comparison.distribution
        labels = {"model": model, "version": version, "feature": verdict.name, "test": outcome.test}
        if outcome.statistic is not None:
            statistic.labels(**labels).set(outcome.statistic)
        if outcome.p_value is not None:
            p_value.labels(**labels).set(outcome.p_value)
        detected.labels(model=model, version=version, feature=verdict.name).set(float(verdict.drifted))


def build_registry(result: DriftResult, now: float | None = None) -> CollectorRegistry:
    """The SPEC's drift metrics for one check, in a registry of their own."""
    registry = CollectorRegistry()
    model, version = result.model, result.model_version
    both = ["model", "version"]
    statistic = Gauge("drift_statistic", "Test statistic per feature", [*both, "feature", "test"], registry=registry)
    p_value = Gauge("drift_p_value", "Uncorrected p-value per feature", [*both, "feature", "test"], registry=registry)
    detected = Gauge("drift_feature_detected", "1 when the feature drifted", [*both, "feature"], registry=registry)
    if not result.insufficient:
        verdicts = list(result.features)
        if result.prediction is not None:
            verdicts.append(result.prediction)
        _feature_samples(verdicts, statistic, p_value, detected, model, version)
        Gauge("drift_detected", "1 when any counted feature drifted", both, registry=registry).labels(
            model, version
        ).set(float(bool(result.drift_detected)))
        Gauge(
            "drift_share_of_drifted_features", "Share of counted features that drifted", both, registry=registry
        ).labels(model, version).set(result.share_drifted or 0.0)
    Gauge("drift_reference_rows", "Reference rows compared", both, registry=registry).labels(model, version).set(
        result.reference_rows
    )
    Gauge("drift_current_rows", "Captured rows compared", both, registry=registry).labels(model, version).set(
        result.current_rows
    )
    Gauge("drift_last_run_timestamp_seconds", "When the check ran (unix time)", both, registry=registry).labels(
        model, version
    ).set(time.time() if now is None else now)
    _check_failed(registry).labels(model).set(0.0)
    Gauge("drift_retrain_triggered", "1 when this check started a retraining", both, registry=registry).labels(
        model, version
    ).set(float(bool(result.retrain.get("triggered"))))
    return registry


def _check_failed(registry: CollectorRegistry) -> Gauge:
    return Gauge("drift_check_failed", "1 when the model's last check could not run", ["model"], registry=registry)


def push_failure(model: str, gateway: str, timeout: float = 10.0) -> None:
    """Mark `model`'s check as failed in its group, keeping the group's other metrics (its last verdict)."""
    registry = CollectorRegistry()
    _check_failed(registry).labels(model).set(1.0)
    pushadd_to_gateway(gateway, job=JOB, registry=registry, grouping_key={"model": model}, timeout=timeout)
    logger.info("pushed the failed check of %s to %s", model, gateway)


def push(result: DriftResult, gateway: str, timeout: float = 10.0) -> None:
    """Replace this model's group on the gateway with the metrics of `result`."""
    push_to_gateway(
        gateway, job=JOB, registry=build_registry(result), grouping_key={"model": result.model}, timeout=timeout
    )
    logger.info("pushed drift metrics for %s to %s", result.model, gateway)
