"""A `MODEL_FILTER` selection with polling off, moved only by the webhooks a real `mlflow server` delivers.

What MLflow 3.17 delivers for a registry selection: `registered_model.created` (with the model's tags)
and `model_version_alias.created` / `.deleted` (also when an alias moves). A model is served once it
matches the filter and has the alias, so a model registered and tagged during the test starts serving on
the alias event that follows its first version; the `registered_model.created` before it makes the
service read the selection (logged) and serve nothing new yet. MLflow sends no event for a registered
model's tags (`mlflow.entities.webhook.VALID_ENTITY_ACTIONS` has only model-version tags): a model tagged
after its alias is set is seen at the next poll, or an admin reload, not by a webhook.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService, webhook_delivery_env
from tests.service.test_following import register_versions

SECRET = "selection-webhook-secret"


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-selection-webhooks"), extra_env=webhook_delivery_env())
    server.start()
    yield server
    server.stop()


def _post(service: RunningService, name: str, body: bytes) -> httpx.Response:
    url = f"{service.url}/invocations/{name}"
    return httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=60)


def _deliveries_reach(service: RunningService, client: MlflowClient) -> bool:
    """Registers an untagged model (outside the selection); true once MLflow's delivery of one such
    creation has reached the service. MLflow caches its webhook list (MLFLOW_WEBHOOK_CACHE_TTL, 1 s
    here), so the events right after `create_webhook` may go nowhere."""
    client.create_registered_model(f"canary-{uuid.uuid4().hex[:8]}")
    return "webhook: registered_model.created for canary-" in service.log_text()


def test_mlflow_webhooks_bring_a_model_registered_and_tagged_later_into_service(
    webhook_server: MlflowServer,
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
) -> None:
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    first = register_versions(webhook_server, demo_model, 2)
    client = first.client
    client.set_registered_model_tag(first.name, tag, "true")
    service = start_service(
        {
            "MODEL_FILTER": f"tags.`{tag}` = 'true'",
            "MLFLOW_TRACKING_URI": webhook_server.uri,
            "RELOAD_INTERVAL_S": "0",  # no polling: only webhooks read the selection again
            "WEBHOOK_SECRET": SECRET,
        }
    )
    client.create_webhook(
        name=f"selection-{tag}",
        url=f"{service.url}/webhooks/mlflow",
        events=["registered_model.created", "model_version_alias.created", "model_version_alias.deleted"],
        secret=SECRET,
    )
    wait_until(lambda: _deliveries_reach(service, client), timeout=60, interval=0.5, what="MLflow's deliveries")

    later = f"later-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(later, tags={tag: "true"})
    wait_until(
        lambda: f"webhook: registered_model.created for {later}" in service.log_text(),
        timeout=60,
        what="MLflow's registered_model.created delivery",
    )
    assert _post(service, later, first.body).status_code == 404  # selected, but no version at the alias yet
    assert httpx.get(f"{service.url}/health/ready").status_code == 200

    from training.train import train_and_register

    version = str(
        train_and_register(
            later, demo_model.frame, "target", alias="Production", tracking_uri=webhook_server.uri
        ).version
    )
    served = wait_until(
        lambda: (answer := _post(service, later, first.body)).status_code == 200 and answer,
        timeout=120,
        what="the model registered and tagged during the test to serve",
    )
    assert served.headers["x-model-version"] == version
    assert f"webhook: model_version_alias.created for {later}" in service.log_text()
    names = {m["name"] for m in httpx.get(f"{service.url}/model").json()["models"]}
    assert names == {first.name, later}

    first.move(first.versions[1])  # an alias moved inside the selection
    wait_until(
        lambda: _post(service, first.name, first.body).headers.get("x-model-version") == first.versions[1],
        timeout=120,
        what="the moved alias to serve",
    )
    assert httpx.get(f"{service.url}/health/ready").status_code == 200
    assert SECRET not in service.log_text()
    assert SECRET not in Path(webhook_server.log_path).read_text(errors="replace")
    assert json.dumps(SECRET) not in httpx.get(f"{service.url}/model").text
