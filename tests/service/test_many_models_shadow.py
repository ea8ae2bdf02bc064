"""Shadowing with `MODEL_FILTER`: each selected model's shadow alias resolves from the selection's read.

Real parts: the session's MLflow server, `python -m service` on a free port, signed webhooks as MLflow sends
them (tests/service/test_webhooks.py). Polling is off, so only the start-up read and the webhook move anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.service.test_following import metric_value, register_versions

pytestmark = pytest.mark.timeout(900)  # four versions registered and a service started: slow on a busy machine


def _shadows(service: RunningService) -> dict[str, Any]:
    return {m["name"]: m["shadow"] for m in httpx.get(f"{service.url}/model").json()["models"]}


def _counted(service: RunningService, series: str, rows: float) -> Callable[[], bool]:
    return lambda: metric_value(service, series) == rows


def test_each_selected_model_shadows_its_own_challenger_and_a_webhook_moves_one(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    from tests.service.test_webhooks import SECRET, deliver_alias_event

    first, second = register_versions(mlflow_server, demo_model, 2), register_versions(mlflow_server, demo_model, 2)
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    for model in (first, second):
        model.client.set_registered_model_tag(model.name, tag, "true")
    first.client.set_registered_model_alias(first.name, "Challenger", first.versions[1])
    service = start_service(
        {
            "MODEL_FILTER": f"tags.`{tag}` = 'true'",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "WEBHOOK_SECRET": SECRET,
            "SHADOW_ALIAS": "Challenger",
            "SHADOW_SAMPLE_RATE": "1",
        }
    )
    wait_until(
        lambda: (_shadows(service)[first.name] or {}).get("version") == first.versions[1],
        timeout=120,
        what="the first model's Challenger, read with the selection, to load",
    )
    assert (_shadows(service)[second.name] or {}).get("version") is None  # no Challenger yet

    second.client.set_registered_model_alias(second.name, "Challenger", second.versions[1])
    assert (_shadows(service)[second.name] or {}).get("version") is None  # polling is off
    answer = deliver_alias_event(service, second.name, "Challenger", second.versions[1])
    assert answer.json()["reloading"] is True
    wait_until(
        lambda: (_shadows(service)[second.name] or {}).get("version") == second.versions[1],
        timeout=120,
        what="the second model's Challenger, announced by the webhook, to load",
    )

    for model in (first, second):
        response = httpx.post(
            f"{service.url}/invocations/{model.name}", content=model.body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-model-version"] == model.versions[0]
        series = (
            f'shadow_compared_rows_total{{model="{model.name}",shadow_version="{model.versions[1]}",'
            f'version="{model.versions[0]}"}}'
        )
        wait_until(_counted(service, series, 3), timeout=60, what=f"{series} to count the 3 rows")
