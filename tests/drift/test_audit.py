"""`python -m drift audit` on a local capture root of many files, models, hours and both schema versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from service.capture import CapturedBatch, CaptureWriter
from service.metrics import Metrics
from tests.conftest import RegisteredModel
from tests.drift.audit_process import audit, write_requests
from tests.drift.capture_files import server_id_at, write_capture

END = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
FRAUD_HOURS = 6
ROWS_PER_HOUR = 120
ROWS_PER_REQUEST = 4


@dataclass(frozen=True)
class Capture:
    root: Path
    fraud: pd.DataFrame
    """The fraud model's rows with their `request_id` and `at` (time captured)."""
    served_at: datetime
    """When the two writer-captured requests (client id `dup`, probabilities) were answered."""
    dup_server_ids: tuple[str, str]
    dup_inputs: tuple[pd.DataFrame, pd.DataFrame]
    dup_probabilities: np.ndarray


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.gamma(2.0, 50.0, n), "country": rng.choice(["fr", "de", "es"], n)})


def _writer_requests(root: Path, at: datetime) -> tuple[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame], np.ndarray]:
    """Two requests with the same client id through the predictor's own writer, with probabilities."""
    writer = CaptureWriter(str(root), Metrics(CollectorRegistry()), flush_interval_s=3600)
    millis = int(at.timestamp() * 1000)
    server_ids = (server_id_at(millis), server_id_at(millis + 5))
    inputs = (_rows(3, 100), _rows(2, 101))
    probabilities = np.array([[0.25, 0.75], [0.875, 0.125], [0.5, 0.5], [0.0625, 0.9375], [0.3, 0.7]])
    offset = 0
    for server_id, frame in zip(server_ids, inputs, strict=True):
        columns = {"amount": frame["amount"].to_numpy(), "country": frame["country"].to_numpy(dtype=object)}
        part = probabilities[offset : offset + len(frame)]
        offset += len(frame)
        batch = CapturedBatch(
            "fraud",
            "7",
            columns,
            len(frame),
            "dup",
            at.timestamp(),
            np.array(["legit", "fraud"])[part.argmax(axis=1)],
            server_request_id=server_id,
            run_id="run-of-7",
            runtime="sklearn",
            probabilities=part,
            classes=["legit", "fraud"],
        )
        assert writer.offer(batch)
    writer.close()
    return server_ids, inputs, probabilities


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    root = tmp_path_factory.mktemp("audit") / "capture"
    start = END - timedelta(hours=FRAUD_HOURS)
    fraud = write_requests(root, start, FRAUD_HOURS * ROWS_PER_HOUR, ROWS_PER_REQUEST, rows_per_file=40)
    churn = _rows(60, 2)
    write_capture(root, "churn", churn, END - timedelta(hours=2), version="3", schema_version=2, rows_per_file=20)
    old = _rows(8, 3)
    old_at = END - timedelta(hours=9)
    write_capture(root, "fraud", old, old_at, version="6", request_ids=["old-1"] * 8)
    served_at = END - timedelta(hours=3, minutes=-17)
    server_ids, inputs, probabilities = _writer_requests(root, served_at)
    return Capture(root, fraud, served_at, server_ids, inputs, probabilities)


def test_a_client_id_among_many_files_gives_back_its_exact_inputs_and_output(capture: Capture) -> None:
    assert len(list(capture.root.rglob("*.parquet"))) > 20
    expected = capture.fraud[capture.fraud["request_id"] == "req-37"]

    found = audit(str(capture.root), "--request-id", "req-37")

    assert found.code == 0, found.stderr
    assert [row["inputs"] for row in found.rows] == expected[["amount", "country"]].to_dict(orient="records")
    assert [row["output"]["prediction"] for row in found.rows] == [float(i % 2) for i in expected.index]
    assert {row["request_id"] for row in found.rows} == {"req-37"}
    assert {(row["model"], row["version"], row["run_id"], row["runtime"]) for row in found.rows} == {
        ("fraud", "7", "run-of-7", "sklearn")
    }
    stamps = [datetime.fromisoformat(row["timestamp"]) for row in found.rows]
    assert stamps == list(expected["at"])
    assert found.rows[0]["links"] == {"model_version_uri": "models:/fraud/7", "run_uri": "runs:/run-of-7/"}


def test_the_same_client_id_twice_is_told_apart_by_the_server_ids(capture: Capture) -> None:
    both = audit(str(capture.root), "--request-id", "dup")
    first = audit(str(capture.root), "--request-id", capture.dup_server_ids[0])

    assert both.code == first.code == 0, both.stderr + first.stderr
    assert [row["server_request_id"] for row in both.rows] == [capture.dup_server_ids[0]] * 3 + [
        capture.dup_server_ids[1]
    ] * 2
    assert [row["inputs"] for row in first.rows] == capture.dup_inputs[0].to_dict(orient="records")
    assert {row["request_id"] for row in first.rows} == {"dup"}
    probabilities = [row["output"]["probabilities"] for row in both.rows]
    assert probabilities == [{"legit": p[0], "fraud": p[1]} for p in capture.dup_probabilities.tolist()]
    assert [row["output"]["prediction"] for row in both.rows] == ["fraud", "legit", "legit", "fraud", "fraud"]
    assert {row["timestamp"] for row in both.rows} == {capture.served_at.isoformat().replace("+00:00", "Z")}


def test_a_time_range_gives_every_row_inside_it_and_no_other(capture: Capture) -> None:
    since, until = END - timedelta(hours=4, minutes=10), END - timedelta(hours=3, minutes=50)
    inside = capture.fraud[(capture.fraud["at"] >= since) & (capture.fraud["at"] < until)]

    found = audit(str(capture.root), "--since", since.isoformat(), "--until", until.isoformat(), "--model", "fraud")

    assert found.code == 0, found.stderr
    assert [row["inputs"]["amount"] for row in found.rows] == inside["amount"].tolist()
    assert {row["model"] for row in found.rows} == {"fraud"}
    limited = audit(str(capture.root), "--since", since.isoformat(), "--model", "fraud", "--limit", "3")
    assert [row["inputs"]["amount"] for row in limited.rows] == inside["amount"].tolist()[:3]


def test_files_of_the_first_schema_version_are_found_too(capture: Capture) -> None:
    found = audit(str(capture.root), "--request-id", "old-1")

    assert found.code == 0, found.stderr
    assert len(found.rows) == 8
    row = found.rows[0]
    assert (row["schema_version"], row["model"], row["version"], row["server_request_id"]) == (1, "fraud", "6", None)
    assert row["run_id"] is None  # not recorded then, and no registry given to look it up


def test_no_match_and_bad_flags_are_told_apart(capture: Capture) -> None:
    missing = audit(str(capture.root), "--request-id", "never-sent")
    no_query = audit(str(capture.root))
    backwards = audit(str(capture.root), "--since", "2026-03-14T12:00:00Z", "--until", "2026-03-14T11:00:00Z")

    assert (missing.code, missing.rows) == (4, [])
    assert "0 row(s)" in missing.stderr
    assert no_query.code == backwards.code == 2
    assert "--request-id" in no_query.stderr.strip().splitlines()[-1]
    assert "--until must be after --since" in backwards.stderr


def test_only_partitions_that_can_match_are_read(tmp_path: Path) -> None:
    """An unreadable file outside the range (or far from a server id's time) is never opened; a lookup that
    has to scan everything names it and fails with one line."""
    root = tmp_path / "capture"
    at = END - timedelta(hours=1)
    write_capture(root, "fraud", _rows(10, 5), at, schema_version=2, request_ids=["near"] * 10)
    broken = root / "model=fraud" / "date=2026-03-13" / "hour=02" / "part-1-host-1-1.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet at all")

    ranged = audit(str(root), "--request-id", "near", "--since", (at - timedelta(minutes=5)).isoformat())

    assert ranged.code == 0, ranged.stderr
    assert len(ranged.rows) == 10
    by_server_id = audit(str(root), "--request-id", ranged.rows[0]["server_request_id"])
    assert by_server_id.code == 0, by_server_id.stderr
    assert len(by_server_id.rows) == 1
    everything = audit(str(root), "--request-id", "near")
    assert everything.code == 1
    assert str(broken) in everything.stderr.strip().splitlines()[-1]


def test_with_a_tracking_server_old_files_get_their_run_and_every_row_its_links(
    demo_model: RegisteredModel, tmp_path: Path
) -> None:
    write_capture(tmp_path, demo_model.name, _rows(2, 9), END, version=demo_model.version, request_ids=["legacy"] * 2)

    found = audit(str(tmp_path), "--request-id", "legacy", "--tracking-uri", demo_model.tracking_uri)

    assert found.code == 0, found.stderr
    assert {row["run_id"] for row in found.rows} == {demo_model.run_id}
    base = demo_model.tracking_uri
    assert found.rows[0]["links"] == {
        "model_version_uri": f"models:/{demo_model.name}/{demo_model.version}",
        "run_uri": f"runs:/{demo_model.run_id}/",
        "model_version_url": f"{base}/#/models/{demo_model.name}/versions/{demo_model.version}",
        "run_url": f"{base}/#/runs/{demo_model.run_id}",
    }
