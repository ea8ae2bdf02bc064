"""The capture writer: the file layout drift reads, bounded memory, failures counted and retried."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from service import capture_table
from service.capture import ZSTD_FROM_ROWS, CapturedBatch, CaptureWriter
from service.metrics import Metrics
from tests.helpers import wait_until


def _batch(n: int, version: str = "3", at: float | None = None, request_id: str = "r1") -> CapturedBatch:
    columns = {
        "mean_radius": np.linspace(10, 20, n),
        "size_band": np.array(["small", "large"] * (n // 2) + ["small"] * (n % 2), dtype=object),
    }
    return CapturedBatch("demo", version, columns, n, request_id, at or time.time(), np.arange(n) % 2)


def _metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def _count(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value(name) or 0.0


def test_files_follow_the_contract(tmp_path: Path) -> None:
    metrics = _metrics()
    writer = CaptureWriter(str(tmp_path), metrics, flush_rows=1_000_000, flush_interval_s=3600)
    at = 1_795_000_000.0  # 2026-11-18 11:06 UTC
    assert writer.offer(_batch(4, at=at, request_id="a"))
    assert writer.offer(_batch(3, version="4", at=at + 1, request_id="b"))
    writer.close()
    files = list(tmp_path.rglob("*.parquet"))
    assert len(files) == 1
    relative = files[0].relative_to(tmp_path)
    assert relative.parts[:3] == ("model=demo", "date=2026-11-18", "hour=11")
    assert relative.name.startswith("part-")
    table = pq.read_table(files[0])
    assert table.column_names == [
        "mean_radius",
        "size_band",
        "_request_id",
        "_server_request_id",
        "_timestamp",
        "_model_name",
        "_model_version",
        "_run_id",
        "_runtime",
        "_prediction",
        "_probabilities",
        "_classes",
        "_shadow_version",
        "_shadow_prediction",
        "_shadow_probabilities",
        "_shadow_error",
    ]
    assert table.schema.field("_timestamp").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("size_band").type == pa.string()
    assert table.column("_request_id").to_pylist() == ["a"] * 4 + ["b"] * 3
    assert table.column("_model_version").to_pylist() == ["3"] * 4 + ["4"] * 3
    assert table.column("_prediction").to_pylist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert table.column("_shadow_version").to_pylist() == [None] * 7  # not shadowed
    assert table.schema.field("_shadow_prediction").type == table.schema.field("_prediction").type
    assert _count(metrics, "capture_rows_total") == 7
    assert not list(tmp_path.rglob(".*"))  # no temporary file left behind


def test_rows_split_by_hour(tmp_path: Path) -> None:
    writer = CaptureWriter(str(tmp_path), _metrics(), flush_interval_s=3600)
    writer.offer(_batch(2, at=1_795_000_000.0))
    writer.offer(_batch(2, at=1_795_000_000.0 + 3600))
    writer.close()
    hours = sorted(p.parent.name for p in tmp_path.rglob("*.parquet"))
    assert hours == ["hour=11", "hour=12"]


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    metrics = _metrics()
    writer = CaptureWriter(str(tmp_path), metrics, max_rows=10, flush_rows=1_000, flush_interval_s=3600)
    assert writer.offer(_batch(4))  # under half the bound: nothing is written yet
    assert not writer.offer(_batch(7))
    assert _count(metrics, "capture_dropped_rows_total") == 7
    writer.close()
    assert sum(pq.read_metadata(p).num_rows for p in tmp_path.rglob("*.parquet")) == 4


def test_flush_by_size_and_by_age(tmp_path: Path) -> None:
    metrics = _metrics()
    writer = CaptureWriter(str(tmp_path), metrics, flush_rows=10, flush_interval_s=0.3)
    writer.offer(_batch(12))
    wait_until(lambda: _count(metrics, "capture_rows_total") == 12, timeout=10, what="flush by size")
    writer.offer(_batch(1))
    wait_until(lambda: _count(metrics, "capture_rows_total") == 13, timeout=10, what="flush by age")
    writer.close()


def test_a_failing_store_keeps_rows_and_recovers(tmp_path: Path) -> None:
    metrics = _metrics()
    blocker = tmp_path / "capture"
    blocker.write_text("a file where the folder should be")
    writer = CaptureWriter(str(blocker), metrics, flush_rows=1, flush_interval_s=3600)
    writer.offer(_batch(3))
    wait_until(lambda: _count(metrics, "capture_write_errors_total") >= 1, timeout=10, what="a write error")
    assert _count(metrics, "capture_rows_total") == 0
    blocker.unlink()
    wait_until(lambda: _count(metrics, "capture_rows_total") == 3, timeout=30, what="the retry")
    writer.close()
    assert _count(metrics, "capture_dropped_rows_total") == 0


def test_the_capture_root_exists_from_start_before_any_row(tmp_path: Path) -> None:
    """The drift job reads an existing empty root as "insufficient data"; made at start, not at first flush."""
    root = tmp_path / "not" / "yet" / "capture"
    writer = CaptureWriter(str(root), _metrics(), flush_rows=1_000_000, flush_interval_s=3600)
    try:
        assert root.is_dir()
        assert list(root.iterdir()) == []
    finally:
        writer.close()


@pytest.mark.parametrize("build_rows", [capture_table.BUILD_ROWS, 1])
def test_one_flush_over_many_models_keeps_each_file_to_its_model_and_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build_rows: int
) -> None:
    """Small batches of several models, interleaved, built together in one flush (or in builds of one file at
    a time): each model's file holds its own rows in arrival order, and a model answering labels does not turn
    another's values into text."""
    monkeypatch.setattr(capture_table, "BUILD_ROWS", build_rows)
    writer = CaptureWriter(str(tmp_path), _metrics(), flush_rows=1_000_000, flush_interval_s=3600)
    at = 1_795_000_000.0
    for i, (model, answer) in enumerate([("a", 0.25), ("b", "yes"), ("a", 1.5), ("b", "no"), ("a", 2.0)]):
        columns = {"mean_radius": np.array([float(i)]), "size_band": np.array(["small"], dtype=object)}
        writer.offer(CapturedBatch(model, "1", columns, 1, f"{model}{i}", at + i, np.array([answer])))
    writer.close()
    tables = {p.relative_to(tmp_path).parts[0]: pq.read_table(p) for p in tmp_path.rglob("*.parquet")}
    assert sorted(tables) == ["model=a", "model=b"]
    a, b = tables["model=a"], tables["model=b"]
    assert a.column("_request_id").to_pylist() == ["a0", "a2", "a4"]
    assert a.column("mean_radius").to_pylist() == [0.0, 2.0, 4.0]
    assert a.column("_prediction").to_pylist() == [0.25, 1.5, 2.0]
    assert a.column("_model_name").to_pylist() == ["a"] * 3
    assert b.column("_request_id").to_pylist() == ["b1", "b3"]
    assert b.column("mean_radius").to_pylist() == [1.0, 3.0]
    assert b.column("_prediction").to_pylist() == ["yes", "no"]
    assert b.schema.field("_shadow_prediction").type == pa.string()
    assert a.column("_timestamp").to_pylist()[1].timestamp() == at + 2
    row_group = pq.read_metadata(next(tmp_path.rglob("model=a/**/*.parquet"))).row_group(0)
    encodings = {row_group.column(i).path_in_schema: row_group.column(i).encodings for i in range(a.num_columns)}
    assert "RLE_DICTIONARY" in encodings["size_band"]  # text: dictionary-encoded
    assert "RLE_DICTIONARY" in encodings["_model_name"]
    assert "RLE_DICTIONARY" not in encodings["mean_radius"]  # floats: plain (dictionaries of distinct values)
    assert row_group.column(0).compression == "SNAPPY"  # a small file: no zstd context per column


def test_a_large_flush_is_compressed_with_zstd(tmp_path: Path) -> None:
    writer = CaptureWriter(str(tmp_path), _metrics(), flush_rows=1_000_000, flush_interval_s=3600)
    writer.offer(_batch(ZSTD_FROM_ROWS))
    writer.close()
    (path,) = tmp_path.rglob("*.parquet")
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(path).column("mean_radius").to_pylist() == list(np.linspace(10, 20, ZSTD_FROM_ROWS))


def _model_batch(model: str, n: int) -> CapturedBatch:
    columns = {"mean_radius": np.linspace(1, 2, n), "size_band": np.array(["small"] * n, dtype=object)}
    return CapturedBatch(model, "1", columns, n, f"{model}-{n}", time.time(), np.zeros(n))


def _files_by_model(root: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for path in root.rglob("*.parquet"):
        model = path.relative_to(root).parts[0]
        found[model] = found.get(model, 0) + pq.read_metadata(path).num_rows
    return found


def test_a_model_is_written_at_its_own_flush_rows_and_the_others_wait(tmp_path: Path) -> None:
    """Many models: a model's file is written when it holds `flush_rows`, not when all models together do, so
    files hold many rows rather than one small file per model per flush."""
    metrics = _metrics()
    writer = CaptureWriter(str(tmp_path), metrics, flush_rows=10, flush_interval_s=3600)
    for _ in range(4):
        writer.offer(_model_batch("quiet", 1))
    writer.offer(_model_batch("busy", 12))
    wait_until(lambda: _count(metrics, "capture_rows_total") == 12, timeout=10, what="the busy model's file")
    assert _files_by_model(tmp_path) == {"model=busy": 12}
    writer.close()  # what is accepted is written on shutdown
    assert _files_by_model(tmp_path) == {"model=busy": 12, "model=quiet": 4}


def test_half_a_full_queue_writes_every_model(tmp_path: Path) -> None:
    """No model reaches `flush_rows`, but the queue holds half of `max_rows`: everything is written before rows
    would have to be dropped."""
    metrics = _metrics()
    writer = CaptureWriter(str(tmp_path), metrics, max_rows=40, flush_rows=1_000, flush_interval_s=3600)
    for model in ("a", "b", "c", "d"):
        writer.offer(_model_batch(model, 5))
    wait_until(lambda: _count(metrics, "capture_rows_total") == 20, timeout=10, what="the writes under pressure")
    assert _files_by_model(tmp_path) == {f"model={m}": 5 for m in "abcd"}
    assert _count(metrics, "capture_dropped_rows_total") == 0
    writer.close()


def test_each_model_is_written_when_its_oldest_rows_are_due(tmp_path: Path) -> None:
    metrics = _metrics()
    writer = CaptureWriter(str(tmp_path), metrics, flush_rows=1_000, flush_interval_s=0.3)
    writer.offer(_model_batch("first", 2))
    wait_until(lambda: _count(metrics, "capture_rows_total") == 2, timeout=10, what="the first model by age")
    writer.offer(_model_batch("second", 3))
    wait_until(lambda: _count(metrics, "capture_rows_total") == 5, timeout=10, what="the second model by age")
    assert _files_by_model(tmp_path) == {"model=first": 2, "model=second": 3}
    writer.close()
