"""Session fixtures of the container tests: the engine, the prod overlay's surroundings, a report file."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.containers.engine import IMAGE, MLFLOW_IMAGE, Engine, unavailable
from tests.containers.stack import (
    ARTIFACTS_BUCKET,
    BUCKET,
    GatewayMoto,
    GatewayPostgres,
    GatewayPushgateway,
    Stack,
    secrets,
    start_mlflow,
)
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
        prod = manifests.render("prod")
        postgres = GatewayPostgres(network.gateway)
        logs = tmp_path_factory.mktemp("host-services")
        s3 = GatewayMoto(logs, network.gateway)
        pushgateway = GatewayPushgateway(prod, network.gateway, logs)
        try:
            pushgateway.start()
            postgres.start()
            postgres.create_database("mlflow")
            s3.start()
            s3.create_bucket(BUCKET)
            s3.create_bucket(ARTIFACTS_BUCKET)
            values = secrets(s3, postgres)
            mlflow = start_mlflow(engine, network, values)
            built = Stack(engine, network, s3, pushgateway, values, prod, mlflow)
            seeded = built.job("seed", "python", "-m", "training", "seed-demo").result
            assert seeded["seeded"] is True, seeded
            yield built
        finally:
            pushgateway.terminate()
            s3.terminate()
            postgres.stop()


@pytest.fixture(scope="session")
def report() -> Iterator[dict[str, Any]]:
    """Figures the tests measure; merged into $ALIASSERVE_CONTAINER_REPORT (CI prints it) when set, since
    each pytest-xdist worker has its own session."""
    figures: dict[str, Any] = {}
    yield figures
    target = os.environ.get("ALIASSERVE_CONTAINER_REPORT")
    if target and figures:
        path = Path(target)
        with open(path, "a+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.seek(0)
            merged = {**json.loads(file.read() or "{}"), **figures}
            file.seek(0)
            file.truncate()
            file.write(json.dumps(merged, indent=2) + "\n")
