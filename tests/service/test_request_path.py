"""The cuts on a one-row request's path keep its behaviour: which routes skip the router, and rows named
in signature order checked as positional rows."""

from __future__ import annotations

import tracemalloc

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi import APIRouter, FastAPI

from service.batching import _merged
from service.capture import CapturedBatch, _table
from service.columns import frame, matrix_of, stacked
from service.middleware import direct_routes
from service.routes.scoring import DirectRoute
from service.schema import ColumnSpec, InputSchema
from service.table import RawTable
from tests.conftest import RegisteredModel
from tests.processes import RunningService


async def _endpoint() -> None:
    """Never called: the routes below are only matched."""


def _app(*routers: tuple[APIRouter, str]) -> FastAPI:
    app = FastAPI()
    for router, prefix in routers:
        app.include_router(router, prefix=prefix)
    return app


def _direct(path: str) -> APIRouter:
    router = APIRouter(route_class=DirectRoute)
    router.add_api_route(path, _endpoint, methods=["POST"])
    return router


def test_the_scoring_route_is_called_directly() -> None:
    from service.routes import scoring

    found = direct_routes(_app((scoring.router, "")).router.routes)
    assert list(found) == [("POST", "/invocations")]
    assert found["POST", "/invocations"].endpoint is scoring.invocations


def test_routes_the_router_would_match_otherwise_stay_with_the_router() -> None:
    catch_all = APIRouter()
    catch_all.add_api_route("/{anything}", _endpoint, methods=["POST"])
    plain = APIRouter()
    plain.add_api_route("/plain", _endpoint, methods=["POST"])
    assert direct_routes(_app((catch_all, ""), (_direct("/invocations"), "")).router.routes) == {}
    assert direct_routes(_app((_direct("/invocations"), "/prefixed")).router.routes) == {}
    assert direct_routes(_app((plain, "")).router.routes) == {}
    first, second = _direct("/invocations"), _direct("/invocations")
    found = direct_routes(_app((first, ""), (second, "")).router.routes)
    assert found["POST", "/invocations"] is first.routes[0]


SCHEMA = InputSchema((ColumnSpec("a", "double"), ColumnSpec("b", "double"), ColumnSpec("c", "double")))


@pytest.mark.parametrize("names", [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a", "extra"]])
def test_named_rows_give_the_columns_named_columns_give(names: list[str]) -> None:
    rows = [[1.5, 2, -3.25, 9][: len(names)], [4.0, 5.5, 6, 9][: len(names)]]
    by_rows = SCHEMA.check(RawTable.from_rows(rows, "data", names))
    by_columns = SCHEMA.check(RawTable.from_columns({n: [r[i] for r in rows] for i, n in enumerate(names)}))
    assert list(by_rows[0]) == ["a", "b", "c"]
    assert by_rows[1] == by_columns[1]
    for name in SCHEMA.names:
        assert by_rows[0][name].dtype == np.float64
        assert np.array_equal(by_rows[0][name], by_columns[0][name])


def test_errors_on_the_direct_route_keep_ids_and_metrics(
    demo_model: RegisteredModel, demo_service: RunningService
) -> None:
    """The app's error handlers answer on the direct path, with both request ids, counted under the route."""
    columns = [str(c) for c in demo_model.frame.columns if c != "target"]
    body = {"dataframe_split": {"columns": columns, "data": [["not a number"] * len(columns)]}}
    with httpx.Client(base_url=demo_service.url, timeout=30) as client:
        answer = client.post("/invocations", json=body, headers={"X-Request-ID": "direct-lane-400"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "BAD_REQUEST"
        assert answer.headers["x-request-id"] == "direct-lane-400"
        assert answer.headers["x-server-request-id"]
        unsupported = client.post("/invocations", content=b"a,b", headers={"Content-Type": "text/plain"})
        assert unsupported.status_code == 415
        metrics = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/invocations",status="400"}' in metrics
    assert 'http_requests_total{method="POST",route="/invocations",status="415"}' in metrics


def _checked(rows: list[list[float]]) -> dict[str, np.ndarray]:
    return SCHEMA.check(RawTable.from_rows(rows, "data", ["a", "b", "c"]))[0]


def test_capture_files_and_merged_batches_from_matrices_equal_those_from_columns() -> None:
    """The checker's matrix is taken whole by the capture writer and the batcher: same table, same merge."""
    requests = [_checked([[1.0, 2.0, 3.0]]), _checked([[4.0, 5.5, 6.0], [7.0, 8.0, 9.25], [0.5, 0.0, -1.0]])]
    assert all(matrix_of(columns) is not None for columns in requests)
    plain = [dict(columns) for columns in requests]
    assert all(matrix_of(columns) is None for columns in plain)

    def batches(columns: list[dict[str, np.ndarray]]) -> list[CapturedBatch]:
        return [
            CapturedBatch("m", "1", c, len(c["a"]), f"r{i}", 1.7e9, np.zeros(len(c["a"])), server_request_id=f"s{i}")
            for i, c in enumerate(columns)
        ]

    assert _table(batches(requests)).equals(_table(batches(plain)))
    merged, by_column = _merged(requests), _merged(plain)
    assert matrix_of(merged) is not None
    assert list(merged) == list(by_column) == ["a", "b", "c"]
    for name in merged:
        assert np.array_equal(merged[name], by_column[name])


def test_models_see_the_checked_matrix_as_they_would_the_columns() -> None:
    """The array and the frame a model gets are taken from the checker's matrix: same values, shape, names."""
    checked = _checked([[4.0, 5.5, 6.0], [7.0, 8.0, 9.25]])
    plain = dict(checked)
    assert matrix_of(checked) is not None
    array = stacked(checked)
    assert array.flags.c_contiguous
    assert np.array_equal(array, stacked(plain))
    assert array.tolist() == [[4.0, 5.5, 6.0], [7.0, 8.0, 9.25]]
    pd.testing.assert_frame_equal(frame(checked), frame(plain))
    assert list(frame(checked).columns) == ["a", "b", "c"]


def test_named_rows_build_columns_only_when_asked() -> None:
    """Rows named in another order than the signature's still give their columns, by name."""
    table = RawTable.from_rows([[1.0, 2.0], [3.0, 4.0]], "data", ["b", "a"])
    assert table.columns == {"b": [1.0, 3.0], "a": [2.0, 4.0]}
    assert RawTable.from_rows([], "data", ["a"]).columns == {"a": []}


def test_checked_rows_hold_one_matrix_not_an_array_per_column() -> None:
    """What a request keeps alive while it waits in the capture queue: its matrix, not ~30 small arrays."""
    names = [f"x{i}" for i in range(30)]
    schema = InputSchema(tuple(ColumnSpec(name, "double") for name in names))
    row = [[float(i) + 0.5 for i in range(30)]]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [schema.check(RawTable.from_rows(row, "data", names))[0] for _ in range(1000)]
        per_request = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_request < 1_000, per_request  # 30 doubles are 240 bytes; a numpy view alone is ~100
    columns = kept[0]
    assert list(columns) == names
    assert len(columns) == 30
    assert "x3" in columns
    assert "y" not in columns
    assert columns["x3"].tolist() == [3.5]
    assert np.shares_memory(columns["x3"], matrix_of(columns))
    assert dict(columns).keys() == set(names)
