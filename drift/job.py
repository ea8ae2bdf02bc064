"""One drift check from start to end: reference, capture window, tests, MLflow run, retraining, push.

Each step logs one progress line with its duration (a CronJob's log is its only trace besides MLflow).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from drift.capture_reader import CaptureRead, Window, read_window
from drift.columns import check_capture_types, feature_kinds, mismatch_error, subsample
from drift.mlflow_log import fail_drift_run, finish_drift_run, start_drift_run
from drift.prediction import MODEL_VERSION, PREDICTION, PredictionSides, compare_predictions, prediction_sides
from drift.push import push
from drift.reference import Reference, load_reference, one_line
from drift.report import write_reports
from drift.result import DriftResult
from drift.retrain import retrain
from drift.settings import DriftSettings, now_utc
from drift.stats import Kind, compare
from drift.verdict import decide

logger = logging.getLogger(__name__)


@contextmanager
def _step(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started
    logger.info("%s done in %.2f s", name, timings[name])


def _compare(
    result: DriftResult, reference: Reference, current: pd.DataFrame, settings: DriftSettings, kinds: dict[str, Kind]
) -> PredictionSides | None:
    """Fill in the feature verdicts (and the prediction's); returns the prediction sides for the plot."""
    comparisons = [compare(name, kind, reference.frame[name], current[name]) for name, kind in kinds.items()]
    sides = prediction_sides(reference, current)
    if isinstance(sides, str):
        result.prediction_note = sides
        result.features = decide(comparisons, settings.thresholds)
        return None
    prediction = compare_predictions(sides)
    if settings.include_prediction:
        verdicts = decide([*comparisons, prediction], settings.thresholds)
        result.features, result.prediction = verdicts[:-1], verdicts[-1]
    else:
        result.features = decide(comparisons, settings.thresholds)
        result.prediction = decide([prediction], settings.thresholds)[0]
    return sides


def _read_capture(settings: DriftSettings, window: Window, features: list[str]) -> CaptureRead:
    """The sampled window; files lacking reference columns are skipped, or fatal when no file has them."""
    name = settings.model_uri.name
    read = read_window(
        settings.capture_uri, name, window, features, [PREDICTION, MODEL_VERSION], settings.max_rows, settings.seed
    )
    if read.mismatched_files:
        mismatch = mismatch_error(name, read.mismatched_files)
        if read.frame.empty:
            raise mismatch
        logger.warning("skipped: %s", mismatch)
    return read


def run_drift_check(settings: DriftSettings) -> DriftResult:
    """Run one check; raises DriftError when it cannot run. The result holds the MLflow run id."""
    timings: dict[str, float] = {}
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient(settings.tracking_uri)
    uri = settings.model_uri
    window = Window.ending(settings.window_end, settings.window)
    logger.info("drift check of %s over %s ending %s", uri, settings.window_text, window.end.isoformat())
    with _step(timings, "reference"):
        reference = load_reference(client, uri)
        kinds = feature_kinds(reference.frame, settings.categorical)
        reference = replace(reference, frame=subsample(reference.frame, settings.max_rows, settings.seed))
    with _step(timings, "capture"):
        read = _read_capture(settings, window, list(kinds))
    current = read.frame
    result = DriftResult(
        model=uri.name,
        model_version=reference.version,
        model_uri=str(uri),
        window=window,
        window_length=settings.window_text,
        thresholds=settings.thresholds,
        min_rows=settings.min_rows,
        reference_rows=len(reference.frame),
        current_rows=len(current),
        window_rows=read.window_rows,
        corrupt_files=read.corrupt_files,
        mismatched_files=len(read.mismatched_files),
        include_prediction=settings.include_prediction,
        timings=timings,
    )
    sides = None
    if result.insufficient:
        logger.info("insufficient data: %d captured rows, at least %d needed", len(current), settings.min_rows)
    else:
        check_capture_types(kinds, current)
        with _step(timings, "tests"):
            sides = _compare(result, reference, current, settings, kinds)
        logger.info(
            "verdict: drift %s; drifted: %s", result.drift_detected, ", ".join(result.drifted_features) or "none"
        )
    with _step(timings, "mlflow"):
        result.run_id = start_drift_run(client, settings.tracking_uri, result)
    try:
        _retrain(client, settings, result, result.run_id)
        with _step(timings, "report"), tempfile.TemporaryDirectory(prefix="drift-report-") as folder:
            plotted = (sides.reference, sides.current) if sides is not None else None
            reports = write_reports(result, Path(folder), reference.frame, current, plotted)
            finish_drift_run(client, result.run_id, result, reports)
    except BaseException:
        fail_drift_run(client, result.run_id)
        raise
    if settings.pushgateway:
        _push(result, settings.pushgateway)
    logger.info("drift run %s recorded in experiment drift-%s", result.run_id, uri.name)
    return result


def _retrain(client: MlflowClient, settings: DriftSettings, result: DriftResult, drift_run_id: str) -> None:
    if settings.retrain is None:
        return
    if not result.drift_detected:
        reason = "insufficient data" if result.drift_detected is None else "no drift detected"
        result.retrain = {"triggered": False, "reason": reason}
        return
    with _step(result.timings, "retrain"):
        result.retrain = retrain(client, settings.retrain, result.model, result.model_version, drift_run_id, now_utc())


def _push(result: DriftResult, gateway: str) -> None:
    """A gateway that is down does not undo a check that ran and is recorded: warn and go on."""
    try:
        push(result, gateway)
    except Exception as exc:  # network, HTTP and URL errors alike
        logger.warning("could not push metrics to %s: %s", gateway, one_line(exc))
