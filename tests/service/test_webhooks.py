"""Webhooks delivered by a real `mlflow server` move the service with polling off; forgeries get 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService, serving, webhook_delivery_env
from tests.service.test_following import register_versions, served_version
from tests.service.webhook_recorder import WebhookRecorder

SECRET = "webhook-secret-for-tests"


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """An MLflow server set up as a cluster would be for webhooks to reach in-cluster services."""
    server = MlflowServer(
        tmp_path_factory.mktemp("mlflow-webhooks"),
        extra_env={
            **webhook_delivery_env(),
        },
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secured_service(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("secured")
    with serving(demo_model.service_env(WEBHOOK_SECRET=SECRET), root) as service:
        yield service


def _sign(body: bytes, delivery_id: str, timestamp: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def deliver_alias_event(service: RunningService, name: str, alias: str, version: str) -> httpx.Response:
    """`model_version_alias.created` signed as MLflow signs it, with a fresh delivery id, posted to `service`."""
    event = {"entity": "model_version_alias", "action": "created"}
    body = json.dumps({**event, "data": {"name": name, "alias": alias, "version": version}}).encode()
    delivery, timestamp = uuid.uuid4().hex, str(int(time.time()))
    headers = {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": timestamp,
        "X-MLflow-Signature": _sign(body, delivery, timestamp),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{service.url}/webhooks/mlflow", content=body, headers=headers)


def test_mlflow_webhook_moves_the_service_with_polling_off(
    webhook_server: MlflowServer,
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
) -> None:
    v = register_versions(webhook_server, demo_model, 2)
    service = start_service(
        {
            "MODEL_URI": v.uri,
            "MLFLOW_TRACKING_URI": webhook_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "WEBHOOK_SECRET": SECRET,
        }
    )
    v.client.create_webhook(
        name="aliasserve-test",
        url=f"{service.url}/webhooks/mlflow",
        events=["model_version_alias.created", "model_version_alias.deleted"],
        secret=SECRET,
    )
    assert served_version(service, v.body) == v.versions[0]
    v.move(v.versions[1])
    wait_until(lambda: served_version(service, v.body) == v.versions[1], timeout=60, what="the webhook's reload")
    assert "webhook: model_version_alias.created" in service.log_text()
    assert SECRET not in service.log_text()
    assert SECRET not in Path(webhook_server.log_path).read_text(errors="replace")


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("bad signature", "bad X-MLflow-Signature"),
        ("stale timestamp", "stale"),
        ("future timestamp", "stale"),
        ("missing headers", "missing"),
        ("signed with another secret", "bad X-MLflow-Signature"),
    ],
)
def test_forged_or_stale_deliveries_get_401(
    case: str, words: str, demo_model: RegisteredModel, secured_service: RunningService
) -> None:
    service = secured_service
    body = json.dumps(
        {"entity": "model_version_alias", "action": "created", "timestamp": "x", "data": {"name": demo_model.name}}
    ).encode()
    now = str(int(time.time()))
    headers = {"X-MLflow-Delivery-Id": "d-1", "X-MLflow-Timestamp": now, "Content-Type": "application/json"}
    if case == "bad signature":
        headers["X-MLflow-Signature"] = "v1,AAAA"
    elif case == "stale timestamp":
        headers["X-MLflow-Timestamp"] = str(int(time.time()) - 301)
        headers["X-MLflow-Signature"] = _sign(body, "d-1", headers["X-MLflow-Timestamp"])
    elif case == "future timestamp":
        headers["X-MLflow-Timestamp"] = str(int(time.time()) + 3600)
        headers["X-MLflow-Signature"] = _sign(body, "d-1", headers["X-MLflow-Timestamp"])
    elif case == "missing headers":
        headers = {"Content-Type": "application/json"}
    else:
        headers["X-MLflow-Signature"] = _sign(body, "d-1", now, secret="another")
    response = httpx.post(f"{service.url}/webhooks/mlflow", content=body, headers=headers)
    assert response.status_code == 401
    assert words in response.json()["message"]


def test_a_valid_delivery_for_another_model_is_accepted_and_ignored(
    demo_model: RegisteredModel, secured_service: RunningService
) -> None:
    service = secured_service
    body = json.dumps(
        {"entity": "model_version_alias", "action": "created", "data": {"name": "other", "alias": "Production"}}
    ).encode()
    now = str(int(time.time()))
    headers = {"X-MLflow-Delivery-Id": "d-2", "X-MLflow-Timestamp": now, "X-MLflow-Signature": _sign(body, "d-2", now)}
    response = httpx.post(f"{service.url}/webhooks/mlflow", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"accepted": True, "reloading": False}
    assert SECRET not in service.log_text()


def test_a_replayed_delivery_from_mlflow_is_acted_on_once(
    webhook_server: MlflowServer, demo_model: RegisteredModel, secured_service: RunningService
) -> None:
    """A real `mlflow server` signs a delivery for the served model and alias; sent twice, only the first acts."""
    client = MlflowClient(webhook_server.uri)
    client.create_registered_model(demo_model.name)
    version = client.create_model_version(demo_model.name, "s3://bucket/elsewhere/model").version
    with WebhookRecorder() as recorder:
        client.create_webhook(
            name=f"replay-{demo_model.name}", url=recorder.url, events=["model_version_alias.created"], secret=SECRET
        )
        client.set_registered_model_alias(demo_model.name, "Production", version)
        (delivery,) = wait_until(lambda: recorder.deliveries, timeout=60, what="MLflow to deliver the webhook")
    headers = {k: v for k, v in delivery.headers.items() if k.lower().startswith(("x-mlflow-", "content-type"))}
    url = f"{secured_service.url}/webhooks/mlflow"

    first = httpx.post(url, content=delivery.body, headers=headers)
    replayed = httpx.post(url, content=delivery.body, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": True, "reloading": True}
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"accepted": True, "reloading": False, "duplicate": True}
    delivery_id = headers.get("X-Mlflow-Delivery-Id") or headers["X-MLflow-Delivery-Id"]
    log = secured_service.log_text()
    assert log.count(f"delivery {delivery_id} was already handled") == 1
