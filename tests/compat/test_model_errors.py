"""A model that raises: 500 `INTERNAL_ERROR` on input its signature accepted, counted, alone in its batch.

Real models from the zoo, served by this service only (MLflow answers 400 to every model exception: the
500 is a documented difference).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.compat.conftest import ServerPool
from tests.helpers import wait_until
from tests.processes import RunningService, serving
from tests.service.test_batching import _merged_calls


def _model_errors(service: RunningService, name: str) -> float:
    text = httpx.get(f"{service.url}/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "model_errors":
            return sum(s.value for s in family.samples if s.name.endswith("_total") and s.labels["model"] == name)
    return 0.0


@pytest.fixture(scope="module")
def raising(zoo: ServerPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RunningService]]:
    name = zoo.name("raises")
    with serving(zoo.service_env(name), tmp_path_factory.mktemp("raises")) as service:
        yield name, service


def test_a_model_whose_example_fails_is_served_and_says_why(raising: tuple[str, RunningService]) -> None:
    _, service = raising
    info = httpx.get(f"{service.url}/model").json()
    assert info["version"] == "1"
    assert "ValueError" in info["warm_up_error"]
    assert "must not be negative" in info["warm_up_error"]
    ok = httpx.post(f"{service.url}/invocations", json={"dataframe_records": [{"x": 1.5}, {"x": 2.0}]})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"predictions": [3.0, 4.0]}


def test_a_model_that_raises_answers_500_naming_model_version_and_exception(
    raising: tuple[str, RunningService],
) -> None:
    name, service = raising
    before = _model_errors(service, name)
    response = httpx.post(f"{service.url}/invocations", json={"dataframe_records": [{"x": 1.0}, {"x": -3.0}]})
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["error_code"] == "INTERNAL_ERROR"
    for part in (f"model {name}", "version 1", "ValueError", "must not be negative"):
        assert part in body["message"]
    assert "Traceback" not in body["message"]
    assert _model_errors(service, name) == before + 1


def test_input_the_signature_refuses_stays_400_and_is_not_counted(raising: tuple[str, RunningService]) -> None:
    name, service = raising
    before = _model_errors(service, name)
    response = httpx.post(f"{service.url}/invocations", json={"dataframe_records": [{"y": 1.0}]})
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert _model_errors(service, name) == before


def test_a_model_without_signature_that_raises_answers_400_and_is_counted(
    zoo: ServerPool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = zoo.name("raises_no_signature")
    with serving(zoo.service_env(name), tmp_path_factory.mktemp("raises-nosig")) as service:
        response = httpx.post(f"{service.url}/invocations", json={"inputs": [[1.0], [-2.0]]})
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == "BAD_REQUEST"
        assert "ValueError" in response.json()["message"]
        assert _model_errors(service, name) == 1


def test_one_raising_request_among_concurrent_ones_fails_alone(
    zoo: ServerPool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A native pipeline (the fast path, batched) raising on an unseen category: only those requests fail."""
    name = zoo.name("sk_category")
    settings = {"MAX_BATCH_WAIT_MS": "20"}
    with serving(zoo.service_env(name, **settings), tmp_path_factory.mktemp("category")) as service:
        good = {"dataframe_records": [{"band": "small", "x": 0.2}, {"band": "large", "x": 0.9}]}
        bad = {"dataframe_records": [{"band": "medium", "x": 0.5}]}
        payloads = [bad if i % 4 == 0 else good for i in range(40)]

        async def send_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
                return await asyncio.gather(*(client.post("/invocations", json=p) for p in payloads))

        rounds = 0

        def one_round() -> bool:
            """40 requests at once; every bad one 500, every good one answered; until a call merged several."""
            nonlocal rounds
            rounds += 1
            responses = asyncio.run(send_all())
            for payload, response in zip(payloads, responses, strict=True):
                if payload is bad:
                    assert response.status_code == 500, response.text
                    assert response.json()["error_code"] == "INTERNAL_ERROR"
                    assert "ValueError" in response.json()["message"]
                else:
                    assert response.status_code == 200, response.text
                    assert len(response.json()["predictions"]) == 2
            return _merged_calls(service) > 0

        wait_until(one_round, timeout=180, interval=0, what="model_batch_rows to show a call of several requests")
        assert _model_errors(service, name) == payloads.count(bad) * rounds
