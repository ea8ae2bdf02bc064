"""Fixtures for the training tests: a client on the session's MLflow server, fresh model names, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import mlflow.projects
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.processes import REPO, MlflowServer, base_env
from training.data import load_demo_frame
from training.tracking import experiment_name_for


@pytest.fixture
def client(mlflow_server: MlflowServer) -> MlflowClient:
    """A registry client on the session's server, which is also the fluent API's tracking URI."""
    mlflow.set_tracking_uri(mlflow_server.uri)
    return MlflowClient(mlflow_server.uri)


@pytest.fixture
def model_name() -> str:
    """A registered model name no other test uses, so alias moves never meet."""
    return f"training-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def demo_frame() -> pd.DataFrame:
    return load_demo_frame()


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli() -> CliRunner:
    """Run `python -m training ARGS` as a real process (MLFLOW_* variables only as given)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        full_env = base_env(PYTHONPATH=str(REPO), **(env or {}))
        return subprocess.run(
            [sys.executable, "-m", "training", *args],
            env=full_env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    return run


def run_train_project(monkeypatch: pytest.MonkeyPatch, model_name: str, **parameters: str) -> Any:
    """The `train` entry point through MLflow Projects, in this environment, as the drift job starts it."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return mlflow.projects.run(  # type: ignore[no-untyped-call]
        uri=str(REPO),
        entry_point="train",
        parameters={"model_name": model_name, **parameters},
        experiment_name=experiment_name_for(model_name),
        env_manager="local",
        synchronous=True,
    )
