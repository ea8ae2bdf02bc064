"""Reading a window of capture files: partitions, the `_timestamp` filter, pruning, corrupt files, sampling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from drift import DriftError
from drift.capture_reader import Window, read_window
from tests.drift.capture_files import capture_table, partition_dir, write_capture

MODEL = "m"
END = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def _inputs(n: int, start: int = 0) -> pd.DataFrame:
    rows = np.arange(start, start + n)
    return pd.DataFrame({"x": rows.astype(np.float64), "y": (rows % 3).astype(str), "z": rows * 2})


def _minutes_before_end(minutes: float, n: int) -> list[datetime]:
    return [END - timedelta(minutes=minutes)] * n


def test_only_rows_inside_the_window_are_read_across_hour_partitions(tmp_path: Path) -> None:
    write_capture(tmp_path, MODEL, _inputs(10, 0), _minutes_before_end(20, 10))  # 12:10, inside
    write_capture(tmp_path, MODEL, _inputs(10, 100), _minutes_before_end(90, 10))  # 11:00, inside
    write_capture(tmp_path, MODEL, _inputs(10, 200), _minutes_before_end(130, 10))  # 10:20, before start 10:30
    write_capture(tmp_path, MODEL, _inputs(10, 300), [END + timedelta(minutes=5)] * 10)  # after the end
    write_capture(tmp_path, "other", _inputs(10, 400), _minutes_before_end(20, 10))
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=2)), ["x", "y"])
    assert sorted(read.frame["x"].astype(int)) == [*range(10), *range(100, 110)]
    assert read.window_rows == 20
    assert read.files == 2


@pytest.mark.parametrize("statistics", [True, False], ids=["with-statistics", "without-statistics"])
def test_window_edges_are_exact_to_the_millisecond_with_or_without_file_statistics(
    tmp_path: Path, statistics: bool
) -> None:
    """Files wholly inside or outside are decided from their `_timestamp` statistics; a file across an
    edge (or written without statistics) is filtered row by row. Start inclusive, end exclusive."""
    start, ms = END - timedelta(hours=1), timedelta(milliseconds=1)
    stamps = [start - ms, start, END - ms, END, start + 10 * ms, END - 10 * ms]
    table = capture_table(_inputs(len(stamps)), stamps, "1", None)
    for index, rows in enumerate([[0, 1, 2, 3], [4, 5], [0], [3]]):  # across both edges, inside, before, after
        folder = partition_dir(tmp_path, MODEL, stamps[rows[0]])
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.take(rows), folder / f"part-{index}-h-1-{index}.parquet", write_statistics=statistics)
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=1)), ["x"])
    assert sorted(read.frame["x"].astype(int)) == [1, 2, 4, 5]
    assert read.window_rows == 4


def test_partitions_outside_the_window_are_not_even_listed(tmp_path: Path) -> None:
    """A broken file in an hour the window does not touch is never opened, so never counted."""
    old = partition_dir(tmp_path, MODEL, END - timedelta(hours=5))
    old.mkdir(parents=True)
    (old / "part-1-h-1-0.parquet").write_bytes(b"not parquet")
    write_capture(tmp_path, MODEL, _inputs(5), _minutes_before_end(10, 5))
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=1)), ["x"])
    assert len(read.frame) == 5
    assert read.corrupt_files == []


def test_only_the_needed_columns_are_read(tmp_path: Path) -> None:
    write_capture(tmp_path, MODEL, _inputs(8), _minutes_before_end(10, 8))
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=1)), ["z"], ["_prediction", "_absent"])
    assert list(read.frame.columns) == ["z", "_prediction"]


def test_corrupt_files_are_skipped_and_counted_and_hidden_files_ignored(tmp_path: Path) -> None:
    (written,) = write_capture(tmp_path, MODEL, _inputs(6), _minutes_before_end(10, 6))
    folder = written.parent
    (folder / "part-2-h-1-7.parquet").write_bytes(b"PAR1 garbage")
    truncated = folder / "part-3-h-1-8.parquet"
    truncated.write_bytes(written.read_bytes()[:-20])
    (folder / ".part-4-h-1-9.parquet.tmp").write_bytes(b"half written")
    (folder / "_SUCCESS").write_bytes(b"")
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=1)), ["x"])
    assert len(read.frame) == 6
    assert sorted(Path(p).name for p in read.corrupt_files) == ["part-2-h-1-7.parquet", "part-3-h-1-8.parquet"]


def test_files_without_the_reference_columns_are_reported_not_read(tmp_path: Path) -> None:
    write_capture(tmp_path, MODEL, _inputs(4).rename(columns={"x": "renamed"}), _minutes_before_end(10, 4))
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=1)), ["x", "y"])
    assert read.frame.empty
    assert list(read.mismatched_files.values()) == [["x"]]


def test_subsampling_is_bounded_uniform_over_files_and_deterministic(tmp_path: Path) -> None:
    stamps = [END - timedelta(minutes=float(m)) for m in np.linspace(1, 170, 3_000)]
    write_capture(tmp_path, MODEL, _inputs(3_000), stamps, rows_per_file=250)
    window = Window.ending(END, timedelta(hours=2))  # about 2,100 of the 3,000 rows
    first = read_window(str(tmp_path), MODEL, window, ["x"], max_rows=500, seed=1)
    again = read_window(str(tmp_path), MODEL, window, ["x"], max_rows=500, seed=1)
    other = read_window(str(tmp_path), MODEL, window, ["x"], max_rows=500, seed=2)
    everything = read_window(str(tmp_path), MODEL, window, ["x"], max_rows=10_000)
    assert len(first.frame) == 500
    assert first.window_rows == len(everything.frame) > 2_000
    assert first.frame["x"].tolist() == again.frame["x"].tolist()
    assert first.frame["x"].tolist() != other.frame["x"].tolist()
    sampled = set(first.frame["x"])
    assert len(sampled) == 500
    assert sampled <= set(everything.frame["x"])
    # drawn across the whole window, not from the first files only
    assert everything.frame["x"].quantile(0.1) < np.median(list(sampled)) < everything.frame["x"].quantile(0.9)


def test_a_capture_root_not_created_yet_reads_no_rows(tmp_path: Path) -> None:
    read = read_window(str(tmp_path / "not-yet" / "capture"), MODEL, Window.ending(END, timedelta(hours=1)), ["x"])
    assert read.frame.empty
    assert (read.window_rows, read.files) == (0, 0)
    assert list(read.frame.columns) == ["x"]


@pytest.mark.parametrize("where", ["root", "parent"])
def test_a_capture_root_that_cannot_exist_is_a_configuration_error(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    root = blocker if where == "root" else blocker / "capture"
    with pytest.raises(DriftError, match="not a folder"):
        read_window(str(root), MODEL, Window.ending(END, timedelta(hours=1)), ["x"])


def test_an_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(DriftError, match="cannot open capture root"):
        read_window("nosuchscheme://bucket/capture", MODEL, Window.ending(END, timedelta(hours=1)), ["x"])


def test_an_empty_window_reads_no_rows(tmp_path: Path) -> None:
    read = read_window(str(tmp_path), MODEL, Window.ending(END, timedelta(hours=1)), ["x"])
    assert read.frame.empty
    assert read.window_rows == 0
    assert list(read.frame.columns) == ["x"]


def test_window_hours_cover_partial_hours_at_both_ends() -> None:
    window = Window(datetime(2026, 3, 1, 10, 30, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert [h.hour for h in window.hours()] == [10, 11]
