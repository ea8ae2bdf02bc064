"""The `train` entry point through MLflow Projects: one run, tagged with the drift run that asked for it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.processes import REPO
from training.data import write_frame
from training.registry import PRODUCTION, version_by_alias
from training.tracking import experiment_name_for
from training.train import DRIFT_RUN_TAG


def test_mlproject_train_runs_locally_and_tags_the_drift_run(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    data = write_frame(demo_frame, str(tmp_path / "demo.parquet"))

    submitted = mlflow.projects.run(
        uri=str(REPO),
        entry_point="train",
        parameters={
            "model_name": model_name,
            "data": data,
            "target": "target",
            "promote": "true",
            "drift_run_id": "drift-42",
        },
        experiment_name=experiment_name_for(model_name),
        env_manager="local",
        synchronous=True,
    )

    assert submitted.get_status() == "FINISHED"
    run = client.get_run(submitted.run_id)
    assert run.data.tags[DRIFT_RUN_TAG] == "drift-42"
    assert run.data.tags["gate.decision"] == "no_production"
    assert run.data.params["estimator"] == "Pipeline"
    assert client.get_model_version(model_name, "1").run_id == submitted.run_id
    assert version_by_alias(client, model_name, PRODUCTION) == "1"
    assert len(client.search_runs([run.info.experiment_id])) == 1
