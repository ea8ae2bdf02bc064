"""Following the alias on the production registry: MLflow on PostgreSQL, model artifacts in S3."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial

import httpx

from tests.backends.conftest import Backend
from tests.helpers import wait_until
from tests.processes import RunningService
from tests.service.test_following import Versions
from tests.service.test_webhooks import SECRET
from tests.traffic import Traffic


def _serves(traffic: Traffic, version: str) -> bool:
    return traffic.last_version == version


def _model_version(service: RunningService) -> str:
    return str(httpx.get(f"{service.url}/model").json()["version"])


def test_two_replicas_follow_every_flip_under_load(
    backend: Backend, pg_versions: Versions, start_service: Callable[..., RunningService]
) -> None:
    v = pg_versions
    v.move(v.versions[0])
    env = backend.service_env(MODEL_URI=v.uri, RELOAD_INTERVAL_S="0.5", CAPTURE_URI="")
    replicas = [start_service(env), start_service(env)]
    flips = [v.versions[1], v.versions[2], v.versions[0]]
    with ExitStack() as stack:
        traffic = [stack.enter_context(Traffic(f"{r.url}/invocations", v.body, clients=3)) for r in replicas]
        for version in flips:
            v.move(version)
            for t in traffic:
                wait_until(partial(_serves, t, version), timeout=90, what=f"v{version} on every replica")
    for t in traffic:
        assert t.failures == []
        assert set(t.versions) == set(v.versions)
    for replica in replicas:
        assert httpx.get(f"{replica.url}/model").json()["version"] == v.versions[0]


def test_a_webhook_from_the_postgres_registry_moves_the_service(
    pg_versions: Versions, pg_service: RunningService
) -> None:
    v, service = pg_versions, pg_service
    before = _model_version(service)  # not a prediction: this replica's captured rows belong to test_s3_capture
    after = next(version for version in v.versions if version != before)
    webhook = v.client.create_webhook(
        name="aliasserve-pg",
        url=f"{service.url}/webhooks/mlflow",
        events=["model_version_alias.created", "model_version_alias.deleted"],
        secret=SECRET,
    )
    try:
        v.move(after)
        wait_until(lambda: _model_version(service) == after, timeout=60, what="the webhook's reload")
    finally:
        v.client.delete_webhook(webhook.webhook_id)
    assert "webhook: model_version_alias.created" in service.log_text()
    assert SECRET not in service.log_text()
