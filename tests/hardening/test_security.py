"""Secrets and request contents never reach the logs (or unauthenticated routes); the API docs can be hidden."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RegisteredModel
from tests.helpers import free_port, wait_until
from tests.processes import MlflowServer, RunningService, serving

ADMIN_TOKEN = "adm-7Qz1-token"
WEBHOOK_SECRET = "whk-9Xv2-secret"
PASSWORD = "p4ss-K3y8"
CANARY = "canary-5Tn6-payload"
SECRETS = (ADMIN_TOKEN, WEBHOOK_SECRET, PASSWORD)


def _with_password(uri: str) -> str:
    return uri.replace("http://", f"http://alice:{PASSWORD}@")


def _signed(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    delivery, stamp = "d-sec", str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
    signature = "v1," + base64.b64encode(digest).decode()
    return {"X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp, "X-MLflow-Signature": signature}


@pytest.fixture(scope="module")
def secured(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    with serving(
        {
            "MODEL_URI": demo_model.uri,
            "MLFLOW_TRACKING_URI": _with_password(mlflow_server.uri),  # mlflow server without auth ignores it
            "RELOAD_INTERVAL_S": "0.5",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_LEVEL": "debug",
            "CAPTURE_URI": str(tmp_path_factory.mktemp("secured-capture")),
        },
        tmp_path_factory.mktemp("secured"),
    ) as service:
        yield service


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """Credentials in the URI of a registry that is down; API docs turned off."""
    with serving(
        {
            "MODEL_URI": "models:/anything@Production",
            "MLFLOW_TRACKING_URI": _with_password(f"http://127.0.0.1:{free_port()}"),
            "RELOAD_INTERVAL_S": "0.5",
            "DOCS_ENABLED": "false",
            "CAPTURE_URI": "",
        },
        tmp_path_factory.mktemp("unreachable"),
        wait="live",
    ) as service:
        yield service


def _exercise(service: RunningService, row: dict[str, object], model: str) -> None:
    url = service.url
    good = {**row, "size_band": CANARY}
    bad = {**row, "mean_radius": CANARY}
    json_type = {"Content-Type": "application/json"}
    assert httpx.post(f"{url}/invocations", json={"dataframe_records": [good]}).status_code == 200
    assert httpx.post(f"{url}/invocations", json={"dataframe_records": [bad]}).status_code == 400
    assert (
        httpx.post(f"{url}/invocations", content=f'{{"inputs": [{CANARY}'.encode(), headers=json_type).status_code
        == 400
    )
    csv = f"mean_radius,size_band\n{CANARY},{CANARY}\n".encode()
    assert httpx.post(f"{url}/invocations", content=csv, headers={"Content-Type": "text/csv"}).status_code == 400
    tensor = {"name": "mean_radius", "shape": [1], "datatype": "FP64", "data": [CANARY]}
    assert httpx.post(f"{url}/v2/models/{model}/infer", json={"inputs": [tensor]}).status_code == 400
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert httpx.post(f"{url}/admin/reload", headers=bearer, timeout=60).status_code == 200
    wrong = {"Authorization": f"Bearer {ADMIN_TOKEN}x"}
    assert httpx.post(f"{url}/admin/reload", headers=wrong).status_code == 401
    event = {"entity": "model_version_alias", "action": "created", "data": {"name": model, "alias": "Production"}}
    body = json.dumps({**event, "note": CANARY}).encode()
    assert httpx.post(f"{url}/webhooks/mlflow", content=body, headers=_signed(body)).status_code == 200
    forged = _signed(body, secret=WEBHOOK_SECRET + "x")
    assert httpx.post(f"{url}/webhooks/mlflow", content=body, headers=forged).status_code == 401


def test_secrets_and_payloads_never_reach_the_logs(secured: RunningService, demo_model: RegisteredModel) -> None:
    row = json.loads(demo_model.frame.drop(columns="target").head(1).to_json(orient="records"))[0]
    _exercise(secured, row, demo_model.name)
    wait_until(lambda: "webhook: model_version_alias.created" in secured.log_text(), timeout=10, what="webhook log")
    log = secured.log_text()
    assert "following" in log  # the log is there, and it is the service's
    for secret in (*SECRETS, CANARY):
        assert secret not in log, f"{secret!r} is in the service log"
    for route in ("/model", "/health/ready", "/metrics"):
        assert PASSWORD not in httpx.get(f"{secured.url}{route}").text, route


def test_an_unreachable_registry_does_not_reveal_its_credentials(unreachable: RunningService) -> None:
    wait_until(lambda: "unreachable" in unreachable.log_text(), timeout=30, what="the registry error logged")
    exposed = {
        "log": unreachable.log_text(),
        "/health/ready": httpx.get(f"{unreachable.url}/health/ready").text,
        "/model": httpx.get(f"{unreachable.url}/model").text,
    }
    assert [where for where, text in exposed.items() if PASSWORD in text] == []


def test_docs_can_be_turned_off(unreachable: RunningService, secured: RunningService) -> None:
    for route in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(f"{unreachable.url}{route}").status_code == 404, route
        assert httpx.get(f"{secured.url}{route}").status_code == 200, route
