"""The cuts on a one-row request's path keep its behaviour: which routes skip the router, and rows named
in signature order checked as positional rows."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import generate_latest

from service.app import ServiceApp
from service.batch_jobs import merged as _merged
from service.capture import CapturedBatch
from service.capture_table import table_of
from service.columns import Columns, frame, matrix_of, stacked
from service.direct_routes import DirectRoutes
from service.direct_routes import _flattened as _routes
from service.metrics import Metrics
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


def _found(app: FastAPI, path: str, method: str = "POST") -> tuple[Any, dict[str, Any]] | None:
    match = DirectRoutes(app.router.routes).find(method, path)
    return None if match is None else (match.route, match.path_params)


def test_the_scoring_routes_are_called_directly() -> None:
    from service.routes import scoring

    app = _app((scoring.router, ""))
    plain, named = _found(app, "/invocations"), _found(app, "/invocations/churn")
    assert plain is not None
    assert named is not None
    assert plain[0].endpoint is named[0].endpoint is scoring.invocations
    assert (plain[0].path, plain[1]) == ("/invocations", {})
    assert (named[0].path, named[1]) == ("/invocations/{name}", {"name": "churn"})
    for other in ("/invocations/a/b", "/invocations/", "/invocationsx"):
        assert _found(app, other) is None, other
    assert _found(app, "/invocations", "GET") is None  # the router answers 405


def test_the_v2_inference_routes_are_called_directly() -> None:
    from service.routes import v2

    app = _app((v2.router, ""))
    named = _found(app, "/v2/models/churn/infer")
    versioned = _found(app, "/v2/models/churn/versions/3/infer")
    assert named is not None
    assert versioned is not None
    assert (named[0].endpoint, named[1]) == (v2.infer, {"name": "churn"})
    assert (versioned[0].endpoint, versioned[1]) == (v2.infer_version, {"name": "churn", "version": "3"})
    assert _found(app, "/v2/models/churn", "GET") is None  # metadata stays with the router
    assert _found(app, "/v2/models/churn/ready", "GET") is None


def test_routes_the_router_would_match_otherwise_stay_with_the_router() -> None:
    catch_all = APIRouter()
    catch_all.add_api_route("/{anything}", _endpoint, methods=["POST"])
    plain = APIRouter()
    plain.add_api_route("/plain", _endpoint, methods=["POST"])
    assert _found(_app((catch_all, ""), (_direct("/invocations"), "")), "/invocations") is None
    assert _found(_app((_direct("/invocations"), "/prefixed")), "/prefixed/invocations") is None
    assert _found(_app((plain, "")), "/plain") is None
    first, second = _direct("/invocations"), _direct("/invocations")
    found = _found(_app((first, ""), (second, "")), "/invocations")
    assert found is not None
    assert found[0] is first.routes[0]


def test_an_earlier_route_claims_the_paths_it_matches_and_only_those() -> None:
    """`/invocations/special` before `/invocations/{name}` keeps its path; other names go direct, and a
    catch-all for another method does not claim POST (the router only partly matches it)."""
    special = APIRouter()
    special.add_api_route("/invocations/special", _endpoint, methods=["POST"])
    other_method = APIRouter()
    other_method.add_api_route("/{anything:path}", _endpoint, methods=["GET"])
    app = _app((special, ""), (other_method, ""), (_direct("/invocations/{name}"), ""))
    assert _found(app, "/invocations/special") is None
    assert _found(app, "/invocations/churn") == (app_route(app, "/invocations/{name}"), {"name": "churn"})
    assert _found(app, "/invocations/churn", "GET") is None
    typed = _app((_direct("/models/{number:int}"), ""))
    assert _found(typed, "/models/12") == (app_route(typed, "/models/{number:int}"), {"number": 12})
    assert _found(typed, "/models/twelve") is None


def test_nothing_after_a_mount_is_called_directly() -> None:
    app = _app((_direct("/before/{name}"), ""))
    app.mount("/static", FastAPI())
    app.include_router(_direct("/after/{name}"))
    assert _found(app, "/before/x") is not None
    assert _found(app, "/after/x") is None


def app_route(app: FastAPI, path: str) -> Any:
    return next(route for route, _ in _routes(app.router.routes) if getattr(route, "path", None) == path)


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


def _checked(rows: list[list[float]]) -> Columns:
    return SCHEMA.check(RawTable.from_rows(rows, "data", ["a", "b", "c"]))[0]


def test_capture_files_and_merged_batches_from_matrices_equal_those_from_columns() -> None:
    """The checker's matrix is taken whole by the capture writer and the batcher: same table, same merge."""
    requests = [_checked([[1.0, 2.0, 3.0]]), _checked([[4.0, 5.5, 6.0], [7.0, 8.0, 9.25], [0.5, 0.0, -1.0]])]
    assert all(matrix_of(columns) is not None for columns in requests)
    plain: list[Columns] = [dict(columns) for columns in requests]
    assert all(matrix_of(columns) is None for columns in plain)

    def batches(columns: list[Columns]) -> list[CapturedBatch]:
        return [
            CapturedBatch("m", "1", c, len(c["a"]), f"r{i}", 1.7e9, np.zeros(len(c["a"])), server_request_id=f"s{i}")
            for i, c in enumerate(columns)
        ]

    assert table_of(batches(requests)).equals(table_of(batches(plain)))
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


def _raising_app() -> tuple[ServiceApp, Metrics]:
    """A `ServiceApp` whose direct route raises an error no handler takes, one that answers the metrics it
    sees, and a plain route beside them."""
    router = APIRouter(route_class=DirectRoute)
    metrics = Metrics()

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    async def plain() -> dict[str, str]:
        return {"status": "ok"}

    async def inside(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type="text/plain")

    router.add_api_route("/broken", broken, methods=["POST"])
    router.add_api_route("/inside", inside, methods=["POST"])
    app = ServiceApp()
    app.include_router(router)
    app.add_api_route("/plain", plain, methods=["GET"])
    app.add_request_context(metrics)
    return app, metrics


def test_an_unhandled_error_on_the_direct_route_is_a_counted_plain_500_with_ids() -> None:
    """The direct route skips Starlette's error middleware: its answer to a bug is kept, and the error is raised
    on to the server (which logs it); routes through the router keep their ids and metrics too, and the
    in-flight gauge (read at scrape time) counts the request being answered."""
    asyncio.run(_unhandled_error())


async def _unhandled_error() -> None:
    app, metrics = _raising_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/broken", headers={"X-Request-ID": "bug-1"})
        plain = await client.get("/plain")
        during = (await client.post("/inside")).text
    after = generate_latest(metrics.registry).decode()
    assert "http_requests_in_flight 1.0" in during  # the request asking
    assert "http_requests_in_flight 0.0" in after
    assert (answer.status_code, answer.text) == (500, "Internal Server Error")
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["x-request-id"] == "bug-1"
    assert answer.headers["x-server-request-id"]
    assert plain.status_code == 200
    assert plain.headers["x-request-id"] == plain.headers["x-server-request-id"]
    exposition = generate_latest(metrics.registry).decode()
    assert 'http_requests_total{method="POST",route="/broken",status="500"} 1.0' in exposition
    assert 'http_requests_total{method="GET",route="/plain",status="200"} 1.0' in exposition
    with pytest.raises(RuntimeError, match="a bug"):
        await app(
            {"type": "http", "method": "POST", "path": "/broken", "headers": [], "root_path": "", "query_string": b""},
            _no_body,
            _discard,
        )


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Any) -> None:
    """The answer is read above, through httpx; here only the raise is."""
