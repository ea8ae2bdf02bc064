"""Fixtures written once: a real MLflow tracking server, the demo model on it, the predictor process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.processes import MlflowServer, RunningService


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    frame: pd.DataFrame
    tracking_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@Production"

    def service_env(self, **settings: str) -> dict[str, str]:
        """A service following this model: polling and capture off unless `settings` say otherwise."""
        return {
            "MODEL_URI": self.uri,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "RELOAD_INTERVAL_S": "0",
            "CAPTURE_URI": "",
            **settings,
        }


@pytest.fixture(scope="session")
def demo_model(mlflow_server: MlflowServer) -> RegisteredModel:
    """The demo model registered on the session's MLflow server under a unique name, aliased Production."""
    from training.data import load_demo_frame
    from training.train import train_and_register

    mlflow.set_tracking_uri(mlflow_server.uri)
    frame = load_demo_frame()
    name = f"demo-{uuid.uuid4().hex[:8]}"
    result = train_and_register(name, frame, "target", alias="Production", tracking_uri=mlflow_server.uri)
    return RegisteredModel(name, str(result.version), result.run_id, frame, mlflow_server.uri)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """Start `python -m service` with the given environment; every one started is stopped at teardown."""
    started: list[RunningService] = []

    def start(env: dict[str, str], wait: str = "ready") -> RunningService:
        env = {"CAPTURE_URI": str(tmp_path / f"capture-{len(started)}"), **env}
        service = RunningService(env, log_dir=tmp_path)
        service.start()
        started.append(service)
        if wait == "ready":
            service.wait_ready()
        elif wait == "live":
            service.wait_live()
        return service

    yield start
    for service in started:
        service.terminate()
