"""The `train` entry point through MLflow Projects: one run, tagged with the drift run that asked for it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.training.conftest import run_train_project
from training.data import write_frame
from training.registry import PRODUCTION, version_by_alias
from training.train import DRIFT_RUN_TAG


def test_mlproject_train_runs_locally_and_tags_the_drift_run(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_frame(demo_frame, str(tmp_path / "demo.parquet"))

    submitted = run_train_project(
        monkeypatch, model_name, data=data, target="target", promote="true", drift_run_id="drift-42"
    )

    assert submitted.get_status() == "FINISHED"
    run = client.get_run(submitted.run_id)
    assert run.data.tags[DRIFT_RUN_TAG] == "drift-42"
    assert run.data.tags["gate.decision"] == "no_production"
    assert run.data.params["estimator"] == "Pipeline"
    assert client.get_model_version(model_name, "1").run_id == submitted.run_id
    assert version_by_alias(client, model_name, PRODUCTION) == "1"
    assert len(client.search_runs([run.info.experiment_id])) == 1
