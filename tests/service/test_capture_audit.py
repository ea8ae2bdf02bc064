"""What a real service captures for an audit: both request ids, who answered, the probabilities asked for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service import capture_schema as cols
from service.middleware import server_id_millis
from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import RunningService
from tests.service.payloads import features
from tests.service.test_following import metric_value


@pytest.fixture
def capturing(
    start_service: Callable[..., RunningService], demo_model: RegisteredModel, tmp_path: Path
) -> tuple[RunningService, Path]:
    root = tmp_path / "audit-capture"
    service = start_service(demo_model.service_env(CAPTURE_URI=str(root), CAPTURE_FLUSH_INTERVAL_S="0.2"))
    return service, root


def _captured(service: RunningService, root: Path, rows: int) -> pa.Table:
    wait_until(lambda: metric_value(service, "capture_rows_total") >= rows, timeout=60, what="capture flushed")
    tables = [pq.read_table(path) for path in sorted(root.rglob("*.parquet"))]
    return pa.concat_tables(tables, promote_options="permissive")


def test_two_clients_with_the_same_request_id_stay_distinguishable(
    capturing: tuple[RunningService, Path], demo_model: RegisteredModel
) -> None:
    service, root = capturing
    first, second = features(demo_model.frame, n=3), features(demo_model.frame, n=5).tail(2)
    answers = [
        httpx.post(
            f"{service.url}/invocations",
            json={"dataframe_records": rows.to_dict(orient="records")},
            headers={"X-Request-ID": "order-42"},
        )
        for rows in (first, second)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.headers["x-request-id"] for a in answers] == ["order-42", "order-42"]
    server_ids = [a.headers["x-server-request-id"] for a in answers]
    assert len(set(server_ids)) == 2
    assert all(server_id_millis(i) is not None for i in server_ids)

    table = _captured(service, root, 5)

    assert set(table.column(cols.REQUEST_ID).to_pylist()) == {"order-42"}
    by_server = table.group_by(cols.SERVER_REQUEST_ID).aggregate([("mean_radius", "list")]).to_pylist()
    radii = {row[cols.SERVER_REQUEST_ID]: row["mean_radius_list"] for row in by_server}
    assert radii == {server_ids[0]: first["mean_radius"].tolist(), server_ids[1]: second["mean_radius"].tolist()}


def test_without_a_client_id_both_ids_are_the_server_one(
    capturing: tuple[RunningService, Path], demo_model: RegisteredModel
) -> None:
    service, root = capturing
    answer = httpx.post(
        f"{service.url}/invocations", json={"dataframe_records": features(demo_model.frame, n=1).to_dict("records")}
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == answer.headers["x-server-request-id"]
    row = _captured(service, root, 1).to_pylist()[0]
    assert row[cols.REQUEST_ID] == row[cols.SERVER_REQUEST_ID] == answer.headers["x-request-id"]


def test_probabilities_are_captured_with_their_classes_and_who_answered(
    capturing: tuple[RunningService, Path], demo_model: RegisteredModel
) -> None:
    service, root = capturing
    rows = features(demo_model.frame, n=4)
    answer = httpx.post(
        f"{service.url}/invocations",
        json={"dataframe_records": rows.to_dict(orient="records"), "params": {"predict_method": "predict_proba"}},
    )
    assert answer.status_code == 200, answer.text
    sent = np.array(answer.json()["predictions"])

    table = _captured(service, root, 4)

    captured = np.array(table.column(cols.PROBABILITIES).to_pylist())
    np.testing.assert_array_equal(captured, sent)  # exactly what the client was answered
    assert table.column(cols.CLASSES).to_pylist() == [["0", "1"]] * 4
    assert table.column(cols.PREDICTION).to_pylist() == np.argmax(sent, axis=1).astype(float).tolist()
    assert table.column("mean_radius").to_pylist() == rows["mean_radius"].tolist()
    assert set(table.column(cols.MODEL_NAME).to_pylist()) == {demo_model.name}
    assert set(table.column(cols.MODEL_VERSION).to_pylist()) == {demo_model.version}
    assert set(table.column(cols.RUN_ID).to_pylist()) == {demo_model.run_id}
    assert set(table.column(cols.RUNTIME).to_pylist()) == {_runtime(service)}
    assert set(table.column(cols.SERVER_REQUEST_ID).to_pylist()) == {answer.headers["x-server-request-id"]}
    metadata = pq.read_schema(next(root.rglob("*.parquet"))).metadata
    assert cols.schema_version(metadata) == cols.SCHEMA_VERSION == 3


def _runtime(service: RunningService) -> str:
    """The runtime `/model` reports (SPEC round two); `sklearn`, the native one, where it is not reported yet."""
    return str(httpx.get(f"{service.url}/model").json().get("runtime", "sklearn"))
