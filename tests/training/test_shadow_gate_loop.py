"""The loop through the drift job: retraining hands the live bounds to the `train` entry point (the new
version waits as Challenger), and the drift job's next run promotes the Challenger on its shadow rows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from drift.shadow_settings import LiveBounds
from tests.drift.drift_process import END, demo_rows, finish_drift, start_drift
from tests.drift.shadow_capture import write_shadow_capture
from tests.processes import MlflowServer
from tests.training.conftest import run_train_project
from training.data import write_frame
from training.registry import CHALLENGER, PREVIOUS, PRODUCTION, version_by_alias
from training.train import train_and_register

MIN_ROWS = 300


def test_the_train_entry_point_keeps_a_passing_version_waiting_when_live_evidence_is_required(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = train_and_register(model_name, demo_frame, "target", alias=PRODUCTION)
    data = write_frame(demo_frame, str(tmp_path / "demo.parquet"))

    submitted = run_train_project(
        monkeypatch,
        model_name,
        data=data,
        target="target",
        promote="true",
        shadow_min_rows=str(MIN_ROWS),
        capture_uri=str(tmp_path / "capture"),
    )

    assert submitted.get_status() == "FINISHED"
    run = client.get_run(submitted.run_id)
    assert run.data.tags["gate.decision"] == "waiting"
    assert run.data.tags["live_gate.decision"] == "waiting"
    assert run.data.tags["live_gate.bounds.min_rows"] == str(MIN_ROWS)
    assert version_by_alias(client, model_name, PRODUCTION) == first.version
    waiting = version_by_alias(client, model_name, CHALLENGER)
    assert waiting is not None
    assert waiting != first.version
    assert client.get_model_version(model_name, waiting).tags["aliasserve.live_gate.decision"] == "waiting"


def test_the_drift_jobs_next_run_promotes_the_challenger_on_its_shadow_rows(
    client: MlflowClient, mlflow_server: MlflowServer, model_name: str, demo_frame: pd.DataFrame, tmp_path: Path
) -> None:
    first = train_and_register(model_name, demo_frame, "target", alias=PRODUCTION)
    live = LiveBounds(capture_uri=str(tmp_path), min_rows=MIN_ROWS)
    second = train_and_register(model_name, demo_frame, "target", promote=True, live=live)
    rows = demo_rows(demo_frame, 600, False, 7)
    answers = (rows["mean_radius"].to_numpy() > 14).astype(np.float64)
    write_shadow_capture(
        tmp_path,
        model_name,
        rows,
        END - timedelta(minutes=20),
        version=first.version,
        predictions=answers,
        shadow_version=second.version,
        shadow_predictions=answers,
    )
    data = write_frame(demo_frame, str(tmp_path.parent / f"{model_name}.parquet"))
    args = ["--model-uri", f"models:/{model_name}@Production", "--capture-uri", str(tmp_path), "--window", "1h"]
    retrain = ["--retrain", "--retrain-data", data, "--target", "target", "--promote"]
    live_flags = ["--shadow-min-rows", str(MIN_ROWS)]

    outcome = finish_drift({"run": start_drift([*args, *retrain, *live_flags], MLFLOW_TRACKING_URI=mlflow_server.uri)})

    result = outcome["run"].result
    assert outcome["run"].code == 0, outcome["run"].stderr
    assert result["drift_detected"] is False
    assert result["retrain"]["triggered"] is False
    challenger = result["retrain"]["challenger"]
    assert challenger["decision"] == "promoted"
    assert challenger["live_gate"]["shadowed"] == 600
    assert challenger["live_gate"]["window"]["end"] == END.isoformat()
    assert version_by_alias(client, model_name, PRODUCTION) == second.version
    assert version_by_alias(client, model_name, PREVIOUS) == first.version
    judging = client.get_run(challenger["run_id"])
    assert judging.data.tags["aliasserve.drift_run_id"] == result["run_id"]


def test_live_bounds_without_promote_are_a_usage_error(mlflow_server: MlflowServer) -> None:
    args = ["--model-uri", "models:/any@Production", "--shadow-min-rows", "10"]
    outcome = finish_drift({"run": start_drift(args, MLFLOW_TRACKING_URI=mlflow_server.uri)})["run"]
    assert outcome.code == 2
    assert "--shadow-min-rows is a bound of --retrain --promote" in outcome.stderr
