"""Models served by stage URI: the gate's Production is the stage, promotion and rollback are transitions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier

from tests.processes import MlflowServer
from tests.training.conftest import CliRunner, run_train_project
from training.data import write_frame
from training.registry import CHALLENGER, PREVIOUS, PRODUCTION, version_by_alias, version_in_stage
from training.train import train_and_register


def _stages(client: MlflowClient, name: str) -> dict[str, str]:
    return {str(mv.version): mv.current_stage for mv in client.search_model_versions(f"name='{name}'")}


def test_promotion_by_stage_through_the_project_and_rollback_by_stage(
    client: MlflowClient,
    model_name: str,
    demo_frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: CliRunner,
    mlflow_server: MlflowServer,
) -> None:
    first = train_and_register(
        model_name, demo_frame, "target", estimator=DummyClassifier(), promote=True, stage="Production"
    )
    assert first.promoted
    assert version_in_stage(client, model_name, "Production") == "1"
    assert version_by_alias(client, model_name, PRODUCTION) is None  # the stage is served, not the alias

    data = write_frame(demo_frame, str(tmp_path / "demo.parquet"))
    submitted = run_train_project(  # as the drift job retrains a model it follows by stage
        monkeypatch, model_name, data=data, target="target", promote="true", stage="production"
    )
    assert submitted.get_status() == "FINISHED"
    run = client.get_run(submitted.run_id)
    assert run.data.tags["gate.decision"] == "promoted"
    assert run.data.tags["gate.production_version"] == "1"  # the gate compared with the version in the stage
    assert _stages(client, model_name) == {"1": "Archived", "2": "Production"}
    assert version_by_alias(client, model_name, PREVIOUS) == "1"
    assert version_by_alias(client, model_name, CHALLENGER) == "2"
    assert version_by_alias(client, model_name, PRODUCTION) is None

    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    result = run_cli("rollback", "--model-name", model_name, "--stage", "Production", env=env)
    assert result.returncode == 0, result.stderr
    assert _stages(client, model_name) == {"1": "Production", "2": "Archived"}
    assert version_by_alias(client, model_name, PREVIOUS) == "2"


def test_an_unknown_stage_is_a_one_line_usage_error(run_cli: CliRunner) -> None:
    result = run_cli("rollback", "--model-name", "m", "--stage", "Prod")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Staging, Production, Archived" in result.stderr
