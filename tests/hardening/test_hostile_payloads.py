"""Hostile bodies get a 4xx or a correct 200: never a 5xx, never a dropped connection; the service stays up."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import RegisteredModel
from tests.hardening.conftest import server_errors
from tests.hardening.hostile import JSON, Hostile, invocations_cases, v2_cases
from tests.processes import RunningService

_ROW: dict[str, Any] = {}


def _row(model: RegisteredModel) -> dict[str, Any]:
    if not _ROW:
        _ROW.update(json.loads(model.frame.drop(columns="target").head(1).to_json(orient="records"))[0])
    return _ROW


def _schema(model: RegisteredModel) -> list[tuple[str, str]]:
    return [(name, "BYTES" if name == "size_band" else "FP64") for name in _row(model)]


def _send(url: str, case: Hostile) -> httpx.Response:
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    with httpx.Client(timeout=60) as client:  # a fresh connection per case: a drop is this case's fault
        return client.post(url, content=case.body, headers=headers)


def _judge(response: httpx.Response, case: Hostile, predictions: str) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code == 200:
        assert case.ok_rows is not None, f"accepted a body it should refuse: {response.text[:300]}"
        payload = response.json()
        data = payload["predictions"] if predictions == "mlflow" else payload["outputs"][0]["data"]
        assert len(data) == case.ok_rows
        assert response.headers["x-model-version"]
    else:
        assert 400 <= response.status_code < 500
        assert len(response.text) < 20_000, "the error echoes the hostile input back"
        error = response.json()
        assert error.get("message") or error.get("error"), error


INVOCATION_CASES = list(invocations_cases({"mean_radius": 1.0, "size_band": "small"}))
V2_CASES = list(v2_cases({"mean_radius": 1.0, "size_band": "small"}, [("mean_radius", "FP64")]))


@pytest.mark.parametrize("name", INVOCATION_CASES)
def test_invocations_refuses_or_answers_correctly(
    name: str, target: RunningService, demo_model: RegisteredModel
) -> None:
    case = invocations_cases(_row(demo_model))[name]
    _judge(_send(f"{target.url}/invocations", case), case, "mlflow")


@pytest.mark.parametrize("name", V2_CASES)
def test_v2_infer_refuses_or_answers_correctly(name: str, target: RunningService, demo_model: RegisteredModel) -> None:
    case = v2_cases(_row(demo_model), _schema(demo_model))[name]
    _judge(_send(f"{target.url}/v2/models/{demo_model.name}/infer", case), case, "v2")


def test_after_the_hostile_table_the_service_is_ready_and_counted_no_5xx(
    target: RunningService, demo_model: RegisteredModel
) -> None:
    body = json.dumps({"dataframe_records": [_row(demo_model)]}).encode()
    for name, case in invocations_cases(_row(demo_model)).items():
        assert _send(f"{target.url}/invocations", case).status_code < 500, name
    assert httpx.get(f"{target.url}/health/ready").status_code == 200
    response = httpx.post(f"{target.url}/invocations", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 200
    assert server_errors(target) == {}
    assert target.alive()
