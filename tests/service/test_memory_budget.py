"""MODEL_MEMORY_BUDGET_MB against a real MLflow server and the real service: lazy loads, LRU unloads, cold loads.

Three registered models are copies of the demo model (versions made from its logged model), so each holds
the same memory. A first service without a budget reports what each holds (`/model` `memory_mb`); the
budgeted service gets room for two and a half of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import RunningService
from tests.service.payloads import features


@pytest.fixture(scope="module")
def three_models(demo_model: RegisteredModel) -> list[str]:
    client = MlflowClient(demo_model.tracking_uri)
    names = []
    for _ in range(3):
        name = f"budget-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        version = client.create_model_version(name, f"models:/{demo_model.name}/{demo_model.version}")
        client.set_registered_model_alias(name, "Production", version.version)
        names.append(name)
    return names


def models(service: RunningService) -> dict[str, dict[str, Any]]:
    body = httpx.get(f"{service.url}/model", timeout=10).json()
    return {entry["name"]: entry for entry in body["models"]}


def counted(service: RunningService, metric: str, model: str) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric and sample.labels.get("model") == model:
                return float(sample.value)
    return 0.0


def score(service: RunningService, name: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{service.url}/invocations/{name}", content=body, headers={"Content-Type": "application/json"}, timeout=60
    )


def test_a_budget_for_two_of_three_unloads_the_least_recently_used_and_cold_loads_on_the_next_call(
    demo_model: RegisteredModel, three_models: list[str], start_service: Callable[..., RunningService]
) -> None:
    uris = ",".join(f"models:/{name}@Production" for name in three_models)
    body = json.dumps(
        {"dataframe_split": json.loads(features(demo_model.frame, 2).to_json(orient="split", index=False))}
    )
    request = body.encode()

    unbudgeted = start_service(demo_model.service_env(MODEL_URI=uris))
    sizes = {name: entry["memory_mb"] for name, entry in models(unbudgeted).items()}
    assert all(entry["loaded"] for entry in models(unbudgeted).values())
    assert all(size > 0 for size in sizes.values()), sizes
    unbudgeted.terminate()

    budget_mb = 2.5 * max(sizes.values())
    service = start_service(demo_model.service_env(MODEL_URI=uris, MODEL_MEMORY_BUDGET_MB=f"{budget_mb:.6f}"))
    # At start, models never called load while they fit: two of the three.
    loaded = wait_until(
        lambda: [n for n, e in models(service).items() if e["loaded"]] if len(models(service)) == 3 else None,
        what="the start-time loads",
    )
    assert len(loaded) == 2, models(service)
    (unloaded,) = set(three_models) - set(loaded)
    assert models(service)[unloaded]["memory_mb"] in (0, None)
    assert httpx.get(f"{service.url}/health/ready", timeout=10).status_code == 200  # an unloaded model is ready

    first, second = loaded
    assert score(service, first, request).status_code == 200
    assert score(service, second, request).status_code == 200

    cold = score(service, unloaded, request)  # waits for its load; `first` is the least recently used
    assert cold.status_code == 200, cold.text
    state = models(service)
    assert state[unloaded]["loaded"] is True
    assert state[first]["loaded"] is False
    assert state[second]["loaded"] is True
    assert counted(service, "model_unloads_total", first) == 1
    assert counted(service, "model_cold_loads_total", unloaded) == 1
    assert counted(service, "model_cold_load_seconds_count", unloaded) == 1
    assert httpx.get(f"{service.url}/health/ready", timeout=10).status_code == 200

    again = score(service, first, request)  # now `second` is the least recently used
    assert again.status_code == 200, again.text
    assert again.json() == cold.json()  # the same model, reloaded: the same answers
    state = models(service)
    assert [state[n]["loaded"] for n in (first, second, unloaded)] == [True, False, True]
    assert counted(service, "model_cold_loads_total", first) == 1
    assert counted(service, "model_unloads_total", second) == 1
    assert sum(e["memory_mb"] or 0 for e in state.values()) <= budget_mb
