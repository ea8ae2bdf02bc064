"""A `MODEL_FILTER` selection with polling off, moved only by the webhooks a real `mlflow server` delivers.

What MLflow 3.17 delivers for a registry selection: `registered_model.created` (with the model's tags)
and `model_version_alias.created` / `.deleted` (also when an alias moves). A model is served once it
matches the filter and has the alias, so a model registered and tagged during the test starts serving on
the alias event that follows its first version; the `registered_model.created` before it makes the
service read the selection (logged) and serve nothing new yet. MLflow sends no event for a registered
model's tags (`mlflow.entities.webhook.VALID_ENTITY_ACTIONS` has only model-version tags): a model tagged
after its alias is set is seen at the next poll, or an admin reload, not by a webhook. With SHADOW_ALIAS,
the shadow alias's events move each selected model's shadow (issue 18) the same way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService, webhook_delivery_env
from tests.service.test_following import Versions, metric_value, register_versions

SECRET = "selection-webhook-secret"
pytestmark = pytest.mark.timeout(600)  # a module MLflow server, models trained and registered in each test


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


def _with_deliveries(
    start_service: Callable[..., RunningService], server: MlflowServer, client: MlflowClient, tag: str, **env: str
) -> RunningService:
    """A predictor serving the models tagged `tag`, polling off (only webhooks read the selection again), and
    MLflow's webhook to it registered and delivering."""
    service = start_service(
        {
            "MODEL_FILTER": f"tags.`{tag}` = 'true'",
            "MLFLOW_TRACKING_URI": server.uri,
            "RELOAD_INTERVAL_S": "0",
            "WEBHOOK_SECRET": SECRET,
            **env,
        }
    )
    client.create_webhook(
        name=f"selection-{tag}",
        url=f"{service.url}/webhooks/mlflow",
        events=["registered_model.created", "model_version_alias.created", "model_version_alias.deleted"],
        secret=SECRET,
    )
    wait_until(lambda: _deliveries_reach(service, client), timeout=60, interval=0.5, what="MLflow's deliveries")
    return service


def _selected_with_deliveries(
    start_service: Callable[..., RunningService],
    server: MlflowServer,
    demo_model: RegisteredModel,
    versions: int,
    **env: str,
) -> tuple[Versions, str, RunningService]:
    """A model of `versions` versions tagged with a fresh tag, and `_with_deliveries`'s predictor selecting it."""
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    model = register_versions(server, demo_model, versions)
    model.client.set_registered_model_tag(model.name, tag, "true")
    return model, tag, _with_deliveries(start_service, server, model.client, tag, **env)


def test_mlflow_webhooks_bring_a_model_registered_and_tagged_later_into_service(
    webhook_server: MlflowServer,
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
) -> None:
    first, tag, service = _selected_with_deliveries(start_service, webhook_server, demo_model, 2)
    client = first.client

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


def _described(service: RunningService) -> dict[str, dict[str, Any]]:
    """`/model` by model name (one object when one model is served, `{"models": [...]}` with several)."""
    answer = httpx.get(f"{service.url}/model", timeout=10).json()
    return {m["name"]: m for m in answer.get("models", [answer])}


def test_mlflow_webhooks_move_the_shadow_alias_of_a_selected_model_with_polling_off(
    webhook_server: MlflowServer,
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
) -> None:
    model, _, service = _selected_with_deliveries(
        start_service, webhook_server, demo_model, 3, SHADOW_ALIAS="Challenger"
    )
    client = model.client
    assert _described(service)[model.name]["shadow"]["version"] is None  # no Challenger yet

    for challenger in model.versions[1:]:
        client.set_registered_model_alias(model.name, "Challenger", challenger)
        wait_until(
            lambda: _shadow_version_is(service, model.name, challenger),  # noqa: B023 - waited on here
            timeout=120,
            what=f"the shadow to follow Challenger to version {challenger}",
        )
    assert f"webhook: model_version_alias.created for {model.name}" in service.log_text()  # MLflow's, not a poll

    answer = _post(service, model.name, model.body)
    assert (answer.status_code, answer.headers["x-model-version"]) == (200, model.versions[0])
    compared = (  # prometheus-client writes the labels sorted by name
        f'shadow_compared_rows_total{{model="{model.name}",shadow_version="{model.versions[2]}",'
        f'version="{model.versions[0]}"}}'
    )
    wait_until(lambda: metric_value(service, compared) >= 3, timeout=120, what="the request's rows shadowed")


def _shadow_version_is(service: RunningService, name: str, version: str) -> bool:
    shadow = _described(service)[name]["shadow"]
    assert shadow["version"] == version, shadow  # the last one is reported if the wait times out
    return True
