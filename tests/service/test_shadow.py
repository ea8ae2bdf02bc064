"""Shadow scoring on a real MLflow server and real uvicorn processes: a Challenger scores the requests too,
and nothing the client gets depends on it (tests/service/shadow_models.py builds the versions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.tree import DecisionTreeClassifier

from service import capture_schema as cols
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.service.shadow_models import SLICE_FROM, TRIGGER, Moody, Pair, register_pair
from tests.service.test_following import metric_value

pytestmark = pytest.mark.timeout(900)  # each test registers two versions and starts services: slow on a busy machine

VARYING_HEADERS = {"date", "x-server-request-id"}
"""What differs between two answers to the same request whatever the shadow does."""

ROWS = [-7.5, -2.5, 2.5, 6.5, 7.5, 8.5, 9.5]


def _split(values: list[float], **params: Any) -> bytes:
    body: dict[str, Any] = {"dataframe_split": {"columns": ["x"], "data": [[v] for v in values]}}
    if params:
        body["params"] = params
    return json.dumps(body).encode()


SCORED = [ROWS, ROWS[3:], ROWS[:2], ROWS[2:], ROWS, ROWS[:4]]
"""The rows of each request below that is answered 200."""
REQUESTS = [
    _split(SCORED[0]),
    _split(SCORED[1]),
    _split(SCORED[2], predict_method="predict_proba"),
    _split(SCORED[3], predict_method="predict_proba"),
    json.dumps({"dataframe_records": [{"x": v} for v in SCORED[4]]}).encode(),
    json.dumps({"inputs": {"x": SCORED[5]}}).encode(),
    _split(["not a number"]),  # type: ignore[list-item]  # a 400, answered alike too
]
SCORED_ROWS = sum(len(rows) for rows in SCORED)
SLICE_ROWS = sum(v > SLICE_FROM for rows in SCORED for v in rows)


@pytest.fixture(scope="module")
def disagreeing(mlflow_server: MlflowServer) -> Pair:
    return register_pair(mlflow_server, DecisionTreeClassifier(random_state=0), flip_slice=True)


def _env(pair: Pair, server: MlflowServer, **settings: str) -> dict[str, str]:
    return {
        "MODEL_URI": f"models:/{pair.name}@Production",
        "MLFLOW_TRACKING_URI": server.uri,
        "RELOAD_INTERVAL_S": "0",
        **settings,
    }


def _shadowing(service: RunningService, version: str) -> bool:
    shadow = httpx.get(f"{service.url}/model").json()["shadow"]
    return bool(shadow and shadow["version"] == version)


def _post(service: RunningService, body: bytes, request_id: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
    return httpx.post(f"{service.url}/invocations", content=body, headers=headers, timeout=60)


def _series(name: str, pair: Pair) -> str:
    """The exposition line's start: prometheus-client writes the labels sorted by name."""
    return f'{name}{{model="{pair.name}",shadow_version="{pair.challenger}",version="{pair.production}"}}'


def _reaches(service: RunningService, series: str, expected: float) -> Callable[[], bool]:
    """A `wait_until` predicate whose last failure names the value it saw."""

    def reached() -> bool:
        value = metric_value(service, series)
        assert value == expected, f"{series} = {value}, waiting for {expected}"
        return True

    return reached


def _captured(folder: Path) -> pa.Table:
    files = sorted(folder.rglob("part-*.parquet"))
    if not files:
        return pa.table({})
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def test_answers_are_identical_and_a_disagreeing_slice_is_counted_and_captured(
    mlflow_server: MlflowServer,
    disagreeing: Pair,
    start_service: Callable[..., RunningService],
    tmp_path: Path,
) -> None:
    capture = tmp_path / "shadowed"
    shadowed = start_service(
        _env(
            disagreeing,
            mlflow_server,
            SHADOW_ALIAS="Challenger",
            CAPTURE_URI=str(capture),
            CAPTURE_FLUSH_INTERVAL_S="0.2",
        )
    )
    plain = start_service(_env(disagreeing, mlflow_server))
    wait_until(lambda: _shadowing(shadowed, disagreeing.challenger), timeout=120, what="the shadow loaded")
    assert httpx.get(f"{plain.url}/model").json()["shadow"] is None

    for i, body in enumerate(REQUESTS):
        with_shadow, without = _post(shadowed, body, f"req-{i}"), _post(plain, body, f"req-{i}")
        assert with_shadow.content == without.content, body
        assert with_shadow.status_code == without.status_code
        kept = {k: v for k, v in with_shadow.headers.items() if k not in VARYING_HEADERS}
        assert kept == {k: v for k, v in without.headers.items() if k not in VARYING_HEADERS}

    compared = _series("shadow_compared_rows_total", disagreeing)
    wait_until(_reaches(shadowed, compared, SCORED_ROWS), timeout=60, what="every row compared")
    assert metric_value(shadowed, _series("shadow_disagreeing_rows_total", disagreeing)) == SLICE_ROWS
    assert metric_value(plain, compared) == 0
    assert SLICE_ROWS > 0
    comparison = httpx.get(f"{shadowed.url}/model").json()["shadow"]["comparisons"][0]
    assert comparison["compared_rows"] == SCORED_ROWS
    assert comparison["disagreeing_rows"] == SLICE_ROWS

    table = wait_until(
        lambda: (t := _captured(capture)).num_rows == SCORED_ROWS and t, timeout=60, what="the capture files"
    )
    assert pq.read_metadata(next(capture.rglob("part-*.parquet"))).metadata[cols.SCHEMA_KEY] == b"3"
    rows = table.to_pylist()
    assert {r[cols.SHADOW_VERSION] for r in rows} == {disagreeing.challenger}
    assert {r[cols.SHADOW_ERROR] for r in rows} == {None}
    for row in rows:
        in_slice = row["x"] > SLICE_FROM
        assert (row[cols.SHADOW_PREDICTION] != row[cols.PREDICTION]) == in_slice, row
        if row[cols.PROBABILITIES] is not None:
            assert row[cols.SHADOW_PROBABILITIES] is not None
            assert len(row[cols.SHADOW_PROBABILITIES]) == len(row[cols.CLASSES])


def test_a_raising_shadow_changes_no_answer_and_is_counted(
    mlflow_server: MlflowServer, start_service: Callable[..., RunningService], tmp_path: Path
) -> None:
    pair = register_pair(mlflow_server, Moody("raise"))
    capture = tmp_path / "raising"
    service = start_service(
        _env(pair, mlflow_server, SHADOW_ALIAS="Challenger", CAPTURE_URI=str(capture), CAPTURE_FLUSH_INTERVAL_S="0.2")
    )
    wait_until(lambda: _shadowing(service, pair.challenger), timeout=120, what="the shadow loaded")
    for i in range(3):
        response = _post(service, _split([TRIGGER, -1.0]), f"trigger-{i}")
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": [1, 0]}
    errors = f'shadow_errors_total{{model="{pair.name}",shadow_version="{pair.challenger}"}}'
    wait_until(_reaches(service, errors, 6), timeout=60, what="the shadow's errors counted")
    assert _post(service, _split([3.0]), "after").json() == {"predictions": [1]}
    compared = _series("shadow_compared_rows_total", pair)
    wait_until(_reaches(service, compared, 1), timeout=60, what="an agreeing row compared")
    assert metric_value(service, _series("shadow_disagreeing_rows_total", pair)) == 0
    table = wait_until(lambda: (t := _captured(capture)).num_rows == 7 and t, timeout=60, what="the capture")
    errors_by_request = {(r[cols.REQUEST_ID], r[cols.SHADOW_ERROR]) for r in table.to_pylist()}
    assert errors_by_request == {(f"trigger-{i}", "RuntimeError") for i in range(3)} | {("after", None)}


def test_a_hanging_shadow_fills_its_queue_drops_and_counts_and_changes_no_answer(
    mlflow_server: MlflowServer, start_service: Callable[..., RunningService], tmp_path: Path
) -> None:
    pair = register_pair(mlflow_server, Moody("hang"))
    capture = tmp_path / "hanging"
    service = start_service(
        _env(
            pair,
            mlflow_server,
            SHADOW_ALIAS="Challenger",
            SHADOW_QUEUE_ROWS="2",
            CAPTURE_URI=str(capture),
            CAPTURE_FLUSH_INTERVAL_S="0.2",
        )
    )
    wait_until(lambda: _shadowing(service, pair.challenger), timeout=120, what="the shadow loaded")
    assert _post(service, _split([TRIGGER]), "hang").json() == {"predictions": [1]}
    wait_until(
        lambda: httpx.get(f"{service.url}/model").json()["shadow"]["queued_rows"] == 0,
        what="the shadow's worker took the hanging row",
    )
    for i in range(10):
        response = _post(service, _split([-1.0, 2.0]), f"after-{i}")
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": [0, 1]}
    dropped = f'shadow_dropped_rows_total{{model="{pair.name}"}}'
    assert metric_value(service, dropped) == 18  # one request (2 rows) fits the queue; the other nine drop
    assert httpx.get(f"{service.url}/health/ready").status_code == 200
    table = wait_until(lambda: (t := _captured(capture)).num_rows == 18 and t, timeout=60, what="the dropped rows")
    assert {r[cols.SHADOW_ERROR] for r in table.to_pylist()} == {"dropped"}
