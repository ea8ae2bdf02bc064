"""One predictor (and one `mlflow models serve` peer) for the demo model, shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RegisteredModel
from tests.processes import MlflowModelsServe, RunningService, serving


@pytest.fixture(scope="session")
def demo_service(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("demo-service")
    with serving(
        demo_model.service_env(
            RELOAD_INTERVAL_S="5", CAPTURE_URI=str(root / "capture"), MAX_ROWS="1000", MAX_REQUEST_BYTES="1000000"
        ),
        root,
    ) as service:
        yield service


@pytest.fixture(scope="session")
def peer(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowModelsServe]:
    server = MlflowModelsServe(demo_model.uri, demo_model.tracking_uri, Path(tmp_path_factory.mktemp("peer")))
    server.start()
    server.wait_ready()
    yield server
    server.terminate()
