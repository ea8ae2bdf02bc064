"""Fixtures for the production-like backends: PostgreSQL registry, S3 artifacts (moto), MLflow on both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.backends.stack import PG_BIN, MotoS3, PostgresCluster, S3MlflowServer
from tests.conftest import RegisteredModel
from tests.helpers import not_installed
from tests.processes import RunningService, serving, webhook_delivery_env
from tests.service.test_following import Versions, register_versions
from tests.service.test_webhooks import SECRET

BUCKET = "aliasserve"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    if PG_BIN is None:
        reason = "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin, pg_config or PATH): run .ci/system-deps"
        not_installed(reason, f"SKIPPING PostgreSQL backend tests: {reason}")
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    server.start()
    server.create_bucket(BUCKET)
    yield server
    server.terminate()


@pytest.fixture(scope="session")
def pg_s3_mlflow(
    postgres: PostgresCluster, moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3MlflowServer]:
    """`mlflow server` on PostgreSQL with artifacts in S3, set up for webhooks to reach loopback services."""
    server = S3MlflowServer(
        tmp_path_factory.mktemp("mlflow-pg-s3"),
        backend_uri=postgres.create_database("mlflow"),
        artifacts_uri=f"s3://{BUCKET}/artifacts",
        extra_env={
            **moto_s3.client_env,
            **webhook_delivery_env(),
        },
    )
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Backend:
    """The registry stack as a test sees it."""

    mlflow: S3MlflowServer
    s3: MotoS3

    def service_env(self, **extra: str) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.mlflow.uri, **self.s3.client_env, **extra}


@pytest.fixture(scope="session")
def backend(pg_s3_mlflow: S3MlflowServer, moto_s3: MotoS3) -> Backend:
    return Backend(pg_s3_mlflow, moto_s3)


@pytest.fixture(scope="session")
def demo_frame() -> RegisteredModel:
    """Only the demo rows (`register_versions` trains on `.frame`), without the sqlite registry's demo model."""
    from training.data import load_demo_frame

    return RegisteredModel("", "", "", load_demo_frame(), "")


@pytest.fixture(scope="session")
def pg_versions(backend: Backend, demo_frame: RegisteredModel) -> Versions:
    """Three versions of a fresh model on the PostgreSQL/S3 registry; the first is Production."""
    return register_versions(backend.mlflow, demo_frame, 3, trained=3)  # the drift job reads a version's own run


@pytest.fixture(scope="session")
def pg_service(
    backend: Backend, pg_versions: Versions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """One replica on this registry: polling off (webhooks move it), capture to S3 flushed every 0.5 s."""
    with serving(
        backend.service_env(
            MODEL_URI=pg_versions.uri,
            RELOAD_INTERVAL_S="0",
            WEBHOOK_SECRET=SECRET,
            CAPTURE_URI=f"s3://{BUCKET}/capture",
            CAPTURE_FLUSH_INTERVAL_S="0.5",
        ),
        tmp_path_factory.mktemp("pg-service"),
    ) as service:
        yield service
