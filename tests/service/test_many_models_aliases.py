"""Selected models' followers do not poll on their own (`SnapshotResolver.wakes_followers`): the selection
follower wakes each one whose alias its snapshot answers otherwise. What they must still see, each through a
real MLflow server and `python -m service`: an alias that moves, one deleted (the version kept, the alias
said missing), and one set again to the version already served (said found again, although nothing moved)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.service.test_following import metric_value, register_versions


def test_selected_models_see_their_alias_move_go_and_come_back(
    mlflow_server: MlflowServer, demo_model: RegisteredModel, start_service: Callable[..., RunningService]
) -> None:
    a, b = register_versions(mlflow_server, demo_model, 2), register_versions(mlflow_server, demo_model, 1)
    client = MlflowClient(mlflow_server.uri)
    tag = f"serve-{uuid.uuid4().hex[:6]}"
    for name in (a.name, b.name):
        client.set_registered_model_tag(name, tag, "true")
    service = start_service(
        {"MODEL_FILTER": f"tags.`{tag}` = 'true'", "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.3"}
    )

    def served(name: str, body: bytes) -> str | None:
        response = httpx.post(
            f"{service.url}/invocations/{name}", content=body, headers={"Content-Type": "application/json"}
        )
        return response.headers.get("x-model-version") if response.status_code == 200 else None

    missing = f'model_alias_missing{{model="{a.name}"}}'
    assert served(a.name, a.body) == a.versions[0]
    a.move(a.versions[1])
    wait_until(lambda: served(a.name, a.body) == a.versions[1], timeout=120, what="the moved alias to serve")

    client.delete_registered_model_alias(a.name, "Production")
    wait_until(lambda: metric_value(service, missing) == 1, timeout=120, what="the deleted alias said missing")
    assert served(a.name, a.body) == a.versions[1]  # the last version keeps serving

    a.move(a.versions[1])  # back on the version served: nothing to load, but the alias is found again
    wait_until(lambda: metric_value(service, missing) == 0, timeout=120, what="the alias said found again")
    assert served(a.name, a.body) == a.versions[1]
    assert served(b.name, b.body) == b.versions[0]  # the other model was never disturbed
    assert "resolves again" in service.log_text()
