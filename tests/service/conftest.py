"""One predictor (and one `mlflow models serve` peer) for the demo model, shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RegisteredModel
from tests.processes import MlflowModelsServe, RunningService


@pytest.fixture(scope="session")
def demo_service(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("demo-service")
    service = RunningService(
        {
            "MODEL_URI": demo_model.uri,
            "MLFLOW_TRACKING_URI": demo_model.tracking_uri,
            "CAPTURE_URI": str(root / "capture"),
            "MAX_ROWS": "1000",
            "MAX_REQUEST_BYTES": "1000000",
        },
        log_dir=root,
    )
    service.start()
    service.wait_ready()
    yield service
    service.terminate()


@pytest.fixture(scope="session")
def peer(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowModelsServe]:
    server = MlflowModelsServe(demo_model.uri, demo_model.tracking_uri, Path(tmp_path_factory.mktemp("peer")))
    server.start()
    server.wait_ready()
    yield server
    server.terminate()
