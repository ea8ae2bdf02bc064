"""One drift check from start to end: reference, capture window, tests, MLflow run, retraining, push.

Each step logs one progress line with its duration (a CronJob's log is its only trace besides MLflow).
What a check does not use is not imported: the Pushgateway client only with `--pushgateway`, MLflow
Projects only with `--retrain`, the model's flavor on the thread that predicts the reference rows.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from drift import shadow
from drift.capture_reader import CaptureRead, Window, read_window
from drift.columns import check_capture_types, feature_kinds, mismatch_error, subsample
from drift.disagreement import shadow_report
from drift.mlflow_log import fail_drift_run, finish_drift_run, start_drift_run
from drift.prediction import MODEL_VERSION, PREDICTION, compare_predictions, prediction_sides
from drift.reference import Reference, load_reference, one_line, resolve_version
from drift.reference_predictions import ReferenceSide, predict_reference, read_predictions, save_predictions
from drift.report import write_reports
from drift.result import DriftResult
from drift.settings import DriftSettings, now_utc
from drift.stats import Kind, compare
from drift.verdict import decide

logger = logging.getLogger(__name__)

CAPTURED = (PREDICTION, MODEL_VERSION, shadow.SHADOW_VERSION, shadow.SHADOW_PREDICTION, shadow.SHADOW_ERROR)
"""Columns read from the capture beside the model inputs, where present (the shadow's: schema 3)."""


@contextmanager
def _step(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started
    logger.info("%s done in %.2f s", name, timings[name])


def _compare(
    result: DriftResult,
    reference: Reference,
    current: pd.DataFrame,
    settings: DriftSettings,
    kinds: dict[str, Kind],
    predicted: ReferenceSide,
) -> None:
    """Fill in the feature verdicts, and the prediction's when the capture holds predictions to compare."""
    comparisons = [compare(name, kind, reference.frame[name], current[name]) for name, kind in kinds.items()]
    sides = prediction_sides(reference, current, predicted.sampled)
    if isinstance(sides, str):
        result.prediction_note = sides
        result.features = decide(comparisons, settings.thresholds)
        return
    prediction = compare_predictions(sides)
    if settings.include_prediction:
        verdicts = decide([*comparisons, prediction], settings.thresholds)
        result.features, result.prediction = verdicts[:-1], verdicts[-1]
    else:
        result.features = decide(comparisons, settings.thresholds)
        result.prediction = decide([prediction], settings.thresholds)[0]


def _read_capture(settings: DriftSettings, window: Window, features: list[str]) -> CaptureRead:
    """The sampled window; files lacking reference columns are skipped, or fatal when no file has them."""
    name = settings.model_uri.name
    read = read_window(settings.capture_uri, name, window, features, CAPTURED, settings.max_rows, settings.seed)
    if read.mismatched_files:
        mismatch = mismatch_error(name, read.mismatched_files)
        if read.frame.empty:
            raise mismatch
        logger.warning("skipped: %s", mismatch)
    return read


def _reference(
    client: MlflowClient, settings: DriftSettings, pool: ThreadPoolExecutor
) -> tuple[Reference, dict[str, Kind], ReferenceSide]:
    """The reference rows (sampled), the feature kinds and the reference side of prediction drift.

    Stored predictions are read first; without them the model starts loading on `pool` before the
    reference rows are downloaded, and predicts them once they are read.
    """
    version = resolve_version(client, settings.model_uri)
    stored = read_predictions(client, version)
    rows: Future[pd.DataFrame] = Future()
    tracking_uri = settings.tracking_uri
    predicted = None if stored is not None else pool.submit(predict_reference, version, rows, tracking_uri)
    try:
        reference = load_reference(client, settings.model_uri, version)
        kinds = feature_kinds(reference.frame, settings.categorical)
    except BaseException as exc:
        rows.set_exception(exc)
        raise
    rows.set_result(reference.frame)
    if stored is not None and len(stored) != len(reference.frame):
        logger.info("stored reference predictions do not match the reference rows; predicting again")
        stored, predicted = None, pool.submit(predict_reference, version, rows, tracking_uri)
    side = ReferenceSide(version, stored, predicted, settings.max_rows, settings.seed)
    return replace(reference, frame=subsample(reference.frame, settings.max_rows, settings.seed)), kinds, side


def run_drift_check(settings: DriftSettings) -> DriftResult:
    """Run one check; raises DriftError when it cannot run. The result holds the MLflow run id."""
    timings: dict[str, float] = {}
    uri = settings.model_uri
    window = Window.ending(settings.window_end, settings.window)
    logger.info("drift check of %s over %s ending %s", uri, settings.window_text, window.end.isoformat())
    client = MlflowClient(settings.tracking_uri)
    # The pool's thread loads the model when the reference predictions are not stored; leaving the block
    # waits for it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reference-predictions") as pool:
        with _step(timings, "reference"):
            reference, kinds, predicted = _reference(client, settings, pool)
        with _step(timings, "capture"):
            read = _read_capture(settings, window, list(kinds))
        result = _result(settings, window, reference, read, timings)
        result.shadow = shadow_report(read.frame, kinds, settings.shadow_tolerance)
        if result.insufficient:
            logger.info("insufficient data: %d captured rows, at least %d needed", len(read.frame), settings.min_rows)
        else:
            check_capture_types(kinds, read.frame)
            with _step(timings, "tests"):
                _compare(result, reference, read.frame, settings, kinds, predicted)
            logger.info(
                "verdict: drift %s; drifted: %s", result.drift_detected, ", ".join(result.drifted_features) or "none"
            )
    _record(client, settings, result)
    made = predicted.made
    if made is not None:
        save_predictions(client, predicted.version, made)
    if settings.pushgateway:
        _push(result, settings.pushgateway)
    logger.info("drift run %s recorded in experiment drift-%s", result.run_id, uri.name)
    return result


def _result(
    settings: DriftSettings, window: Window, reference: Reference, read: CaptureRead, timings: dict[str, float]
) -> DriftResult:
    return DriftResult(
        model=settings.model_uri.name,
        model_version=reference.version,
        model_uri=str(settings.model_uri),
        window=window,
        window_length=settings.window_text,
        thresholds=settings.thresholds,
        min_rows=settings.min_rows,
        reference_rows=len(reference.frame),
        current_rows=len(read.frame),
        window_rows=read.window_rows,
        corrupt_files=read.corrupt_files,
        mismatched_files=len(read.mismatched_files),
        include_prediction=settings.include_prediction,
        timings=timings,
    )


def _record(client: MlflowClient, settings: DriftSettings, result: DriftResult) -> None:
    """The MLflow run, the retraining it may start, and both reports; the run is marked failed on any error."""
    with _step(result.timings, "mlflow"):
        result.run_id = start_drift_run(client, settings.tracking_uri, result)
    try:
        _retrain(client, settings, result, result.run_id)
        with _step(result.timings, "report"), tempfile.TemporaryDirectory(prefix="drift-report-") as folder:
            finish_drift_run(client, result.run_id, result, write_reports(result, Path(folder)))
    except BaseException:
        fail_drift_run(client, result.run_id)
        raise


def _retrain(client: MlflowClient, settings: DriftSettings, result: DriftResult, drift_run_id: str) -> None:
    if settings.retrain is None:
        return
    from drift.retrain import judge_challenger, retrain

    mlflow.set_tracking_uri(settings.tracking_uri)  # MLflow Projects reads the global URI
    challenger = judge_challenger(client, settings, result.model, drift_run_id, settings.window_end)
    if not result.drift_detected:
        reason = "insufficient data" if result.drift_detected is None else "no drift detected"
        result.retrain = {"triggered": False, "reason": reason}
    elif challenger is not None and challenger["promoted"]:
        result.retrain = {"triggered": False, "reason": "the Challenger was promoted on live evidence by this run"}
    else:
        with _step(result.timings, "retrain"):
            result.retrain = retrain(
                client, settings.retrain, result.model, result.model_version, drift_run_id, now_utc()
            )
    if challenger is not None:
        result.retrain["challenger"] = challenger


def _push(result: DriftResult, gateway: str) -> None:
    """A gateway that is down does not undo a check that ran and is recorded: warn and go on."""
    from drift.push import push

    try:
        push(result, gateway)
    except Exception as exc:  # network, HTTP and URL errors alike
        logger.warning("could not push metrics to %s: %s", gateway, one_line(exc))
