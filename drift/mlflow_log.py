"""The drift run in MLflow: experiment `drift-<model name>`, per-feature metrics, verdict, both reports.

The run is created before any retraining starts (the training run is tagged with its id) and finished
once the reports, which include the retraining outcome, are logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag

from drift.result import DriftResult
from drift.verdict import FeatureVerdict
from training.tracking import ensure_experiment

T = TypeVar("T")
PREDICTION_KEY = "_prediction"
_KEY_LIMIT = 200


def experiment_name(model: str) -> str:
    return f"drift-{model}"


def metric_key(feature: str, suffix: str) -> str:
    """`<feature>.<suffix>` with characters MLflow refuses (and dots, which it reads as paths) as `_`."""
    safe = re.sub(r"[^\w\- :]", "_", feature)[:_KEY_LIMIT] or "_"
    return f"{safe}.{suffix}"


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _feature_metrics(key: str, verdict: FeatureVerdict, now: int) -> list[Metric]:
    outcome = verdict.comparison.distribution
    values = {
        "statistic": outcome.statistic,
        "p_value": outcome.p_value,
        "p_value_corrected": verdict.p_value_corrected,
        "distance": outcome.distance,
        "drifted": float(verdict.drifted),
    }
    if verdict.comparison.missing is not None:
        values["missing_p_value"] = verdict.comparison.missing.p_value
        values["missing_share"] = verdict.comparison.current_missing_share
    return [Metric(metric_key(key, name), float(v), now, 0) for name, v in values.items() if v is not None]


def _metrics(result: DriftResult) -> list[Metric]:
    now = int(time.time() * 1000)
    metrics = [
        Metric("reference_rows", float(result.reference_rows), now, 0),
        Metric("current_rows", float(result.current_rows), now, 0),
        Metric("window_rows", float(result.window_rows), now, 0),
        Metric("corrupt_files", float(len(result.corrupt_files)), now, 0),
    ]
    if result.drift_detected is not None:
        metrics.append(Metric("drift_detected", float(result.drift_detected), now, 0))
        metrics.append(Metric("drift_share_of_drifted_features", float(result.share_drifted or 0.0), now, 0))
    for verdict in result.features:
        metrics += _feature_metrics(verdict.name, verdict, now)
    if result.prediction is not None:
        metrics += _feature_metrics(PREDICTION_KEY, result.prediction, now)
    return metrics


def _params(result: DriftResult) -> list[Param]:
    t = result.thresholds
    values = {
        "model_name": result.model,
        "model_version": result.model_version,
        "model_uri": result.model_uri,
        "window": result.window_length,
        "window_start": result.window.start.isoformat(),
        "window_end": result.window.end.isoformat(),
        "alpha": t.alpha,
        "correction": t.correction,
        "ks_min_statistic": t.ks_min_statistic,
        "min_distance": t.min_distance,
        "min_rows": result.min_rows,
        "include_prediction": result.include_prediction,
        "reference_rows": result.reference_rows,
        "rows": result.current_rows,
    }
    return [Param(key, str(value)) for key, value in values.items()]


def verdict_tag(result: DriftResult) -> str:
    return {True: "true", False: "false", None: "insufficient data"}[result.drift_detected]


def start_drift_run(client: MlflowClient, tracking_uri: str, result: DriftResult) -> str:
    """Create the drift run and log params, metrics and the verdict; returns the run id."""
    experiment_id = ensure_experiment(client, tracking_uri, experiment_name(result.model))
    tags = {
        "aliasserve.role": "drift",
        "aliasserve.model_name": result.model,
        "aliasserve.model_version": result.model_version,
        "drift_detected": verdict_tag(result),
        "drifted_features": ",".join(result.drifted_features)[:5000],
    }
    run = client.create_run(
        experiment_id,
        run_name=f"drift {result.model} v{result.model_version} {result.window.end:%Y-%m-%dT%H:%M}Z",
        tags=tags,
    )
    run_id: str = run.info.run_id
    client.log_batch(run_id, params=_params(result))
    for chunk in _chunks(_metrics(result), 1000):
        client.log_batch(run_id, metrics=list(chunk))
    return run_id


def finish_drift_run(client: MlflowClient, run_id: str, result: DriftResult, reports: Sequence[Path]) -> None:
    """Log the retraining outcome and both reports, and mark the run finished."""
    retrain = result.retrain
    tags = [RunTag("retrain_triggered", str(bool(retrain.get("triggered"))).lower())]
    if retrain.get("run_id"):
        tags.append(RunTag("retrain_run_id", str(retrain["run_id"])))
    client.log_batch(run_id, tags=tags)
    for path in reports:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))


def fail_drift_run(client: MlflowClient, run_id: str) -> None:
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
