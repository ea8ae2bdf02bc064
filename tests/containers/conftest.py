"""Session fixtures of the container tests: the engine, the prod overlay's surroundings, a report file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.containers.engine import IMAGE, MLFLOW_IMAGE, Engine, unavailable
from tests.containers.stack import ARTIFACTS_BUCKET, BUCKET, GatewayMoto, GatewayPostgres, Stack, secrets, start_mlflow
from tests.deploy import manifests


@pytest.fixture(scope="session")
def engine() -> Engine:
    engine = Engine()
    engine.require(IMAGE, MLFLOW_IMAGE)
    return engine


@pytest.fixture(scope="session")
def stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """PostgreSQL + moto on the gateway, the example MLflow server in a container, `demo@Production` seeded
    by a Job from the image (`python -m training seed-demo`)."""
    if not GatewayPostgres.available():
        unavailable("PostgreSQL 15 is not installed (run .ci/system-deps)")
    with engine.network() as network:
        postgres = GatewayPostgres(network.gateway)
        s3 = GatewayMoto(tmp_path_factory.mktemp("moto"), network.gateway)
        try:
            postgres.start()
            postgres.create_database("mlflow")
            s3.start()
            s3.create_bucket(BUCKET)
            s3.create_bucket(ARTIFACTS_BUCKET)
            values = secrets(s3, postgres)
            mlflow = start_mlflow(engine, network, values)
            built = Stack(engine, network, s3, values, manifests.render("prod"), mlflow)
            seeded = built.job("seed", "python", "-m", "training", "seed-demo").result
            assert seeded["seeded"] is True, seeded
            yield built
        finally:
            s3.terminate()
            postgres.stop()


@pytest.fixture(scope="session")
def report() -> Iterator[dict[str, Any]]:
    """Figures the tests measure; written to $ALIASSERVE_CONTAINER_REPORT (CI prints it) when set."""
    figures: dict[str, Any] = {}
    yield figures
    target = os.environ.get("ALIASSERVE_CONTAINER_REPORT")
    if target and figures:
        Path(target).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
