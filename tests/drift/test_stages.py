"""The drift job on a stage URI: the reference comes from the latest version in that stage."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from drift import DriftError
from drift.cli import parse_command_line
from drift.job import run_drift_check
from tests.conftest import RegisteredModel
from tests.drift.capture_files import write_capture
from tests.drift.drift_process import END, demo_rows, finish_drift, start_drift
from tests.processes import MlflowServer
from training.train import train_and_register


def test_drift_on_a_stage_uri_checks_the_version_in_the_stage(
    mlflow_server: MlflowServer, demo_model: RegisteredModel, tmp_path: Path
) -> None:
    name = f"staged-{uuid.uuid4().hex[:8]}"
    versions = [
        str(train_and_register(name, demo_model.frame, "target", tracking_uri=mlflow_server.uri).version)
        for _ in range(2)
    ]
    client = MlflowClient(mlflow_server.uri)
    client.transition_model_version_stage(name, versions[0], "Staging")
    client.transition_model_version_stage(name, versions[1], "Production")
    rows = demo_rows(demo_model.frame, 2_000, True, 5)
    predictor = mlflow.pyfunc.load_model(f"models:/{name}/{versions[1]}")
    stamps = [END - timedelta(minutes=float(m)) for m in np.linspace(1, 300, len(rows))]
    write_capture(tmp_path, name, rows, stamps, version=versions[1], predictions=predictor.predict(rows))

    uri = f"models:/{name}/production"  # any case, as MLflow matches stages
    args = ["--model-uri", uri, "--capture-uri", str(tmp_path), "--window", "6h"]
    outcome = finish_drift({"staged": start_drift(args, MLFLOW_TRACKING_URI=mlflow_server.uri)})["staged"]
    assert outcome.code == 0, outcome.stderr
    result = outcome.result
    assert (result["model"], result["model_version"]) == (name, versions[1])
    assert result["drift_detected"] is True
    assert result["features"]["mean_radius"]["drifted"] is True

    settings = parse_command_line(
        ["run", "--model-uri", f"models:/{name}/Archived", "--capture-uri", str(tmp_path)],
        {"MLFLOW_TRACKING_URI": mlflow_server.uri},
    )
    with pytest.raises(DriftError, match="no version in stage 'Archived'"):
        run_drift_check(settings)


def test_retraining_a_model_followed_by_stage_promotes_by_stage() -> None:
    argv = ["run", "--model-uri", "models:/m/staging", "--retrain", "--retrain-data", "d.csv", "--target", "y"]
    assert parse_command_line(argv, {}).retrain.stage == "Staging"  # type: ignore[union-attr]
    argv[2] = "models:/m@Production"
    assert parse_command_line(argv, {}).retrain.stage is None  # type: ignore[union-attr]
