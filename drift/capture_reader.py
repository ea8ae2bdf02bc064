"""Read the rows the predictor captured for one model in a time window (the capture-file contract).

Layout: `{root}/model={name}/date=YYYY-MM-DD/hour=HH/part-*.parquet` (UTC). Only the hour partitions
overlapping the window are listed; names starting with `.` or `_` (files being written, markers) are
ignored. Two passes keep memory bounded by the sample, not the window: the first finds the rows inside
the window from each file's `_timestamp` statistics, reading that column only for files that straddle
a window edge; a seeded draw picks at most `max_rows` of them uniformly; the second pass reads the
needed columns of one file at a time and keeps only the drawn rows. A file that cannot be read is
skipped and counted, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray
from pyarrow import fs as pa_fs

from drift import DriftError

logger = logging.getLogger(__name__)

TIMESTAMP = "_timestamp"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNREADABLE = (pa.ArrowException, OSError, ValueError)


@dataclass(frozen=True)
class Window:
    """The half-open interval [start, end) in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, length: timedelta) -> Window:
        return cls(end - length, end)

    def hours(self) -> list[datetime]:
        """The start of every hour partition that overlaps the window."""
        hour = self.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        hours = []
        while hour < self.end:
            hours.append(hour)
            hour += timedelta(hours=1)
        return hours


@dataclass
class CaptureRead:
    """The sampled rows of the window and what happened on the way."""

    frame: pd.DataFrame
    window_rows: int = 0
    files: int = 0
    corrupt_files: list[str] = field(default_factory=list)
    mismatched_files: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _FileRows:
    path: str
    rows: int
    in_window: NDArray[np.int64] | None
    """Row numbers inside the window, or None when every row is."""


def open_root(uri: str) -> tuple[pa_fs.FileSystem, str] | None:
    """The filesystem and path of the capture root; None when it does not exist yet (nothing captured:
    insufficient data). Only a root that cannot exist is a configuration error: an unknown scheme, or a
    file where the root or one of its parent folders must be."""
    try:
        if "://" in uri:
            filesystem, path = pa_fs.FileSystem.from_uri(uri)
        else:
            filesystem, path = pa_fs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
        path = path.rstrip("/")
        info = filesystem.get_file_info(path)
        if info.type == pa_fs.FileType.NotFound:
            _check_parents(filesystem, path, uri)
            logger.info("capture root %s does not exist yet: nothing captured", uri)
            return None
    except _UNREADABLE as exc:
        raise DriftError(f"cannot open capture root {uri}: {exc}") from exc
    if info.type != pa_fs.FileType.Directory:
        raise DriftError(f"capture root {uri} is not a folder (check --capture-uri / CAPTURE_URI)")
    return filesystem, path


def _check_parents(filesystem: pa_fs.FileSystem, path: str, uri: str) -> None:
    """The nearest existing parent of a missing root must be a folder, or the root can never be created."""
    parent = path
    while "/" in parent.strip("/"):
        parent = parent.rsplit("/", 1)[0]
        kind = filesystem.get_file_info(parent).type
        if kind == pa_fs.FileType.Directory:
            return
        if kind != pa_fs.FileType.NotFound:
            raise DriftError(f"capture root {uri} cannot exist: {parent} is a file, not a folder")


def list_window_files(filesystem: pa_fs.FileSystem, root: str, model: str, window: Window) -> list[str]:
    """Published Parquet files of the hour partitions overlapping the window, in a stable order."""
    paths: list[str] = []
    for hour in window.hours():
        folder = f"{root}/model={model}/date={hour:%Y-%m-%d}/hour={hour:%H}"
        infos = filesystem.get_file_info(pa_fs.FileSelector(folder, allow_not_found=True))
        paths.extend(
            info.path
            for info in infos
            if info.type == pa_fs.FileType.File
            and not info.base_name.startswith((".", "_"))
            and info.base_name.endswith(".parquet")
        )
    return sorted(paths)


def _millis(instant: datetime) -> int:
    """Milliseconds since the epoch, floored, in integer arithmetic (no float rounding at the edges)."""
    return (instant.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)


def _timestamp_range(parquet: pq.ParquetFile) -> tuple[int, int] | None:
    """The file's first and last `_timestamp` in ms from its row-group statistics; None when unknown or
    when a timestamp is missing (a missing one is outside every window, so the column must be read)."""
    metadata = parquet.metadata
    low, high = None, None
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        chunks = (row_group.column(i) for i in range(row_group.num_columns))
        chunk = next((c for c in chunks if c.path_in_schema == TIMESTAMP), None)
        stats = chunk.statistics if chunk is not None and chunk.is_stats_set else None
        if stats is None or not stats.has_min_max or stats.null_count or not isinstance(stats.min, datetime):
            return None
        first, last = (_millis(v if v.tzinfo else v.replace(tzinfo=UTC)) for v in (stats.min, stats.max))
        low, high = min(first, low if low is not None else first), max(last, high if high is not None else last)
    return None if low is None or high is None else (low, high)


def _rows_in_window(parquet: pq.ParquetFile, window: Window) -> NDArray[np.int64] | None:
    """Row numbers inside the window, or None when all are. A file wholly inside or outside the window
    (most of them) is decided from its statistics without reading the column."""
    start_ms, end_ms = _millis(window.start), _millis(window.end)
    known = _timestamp_range(parquet)
    if known is not None and start_ms <= known[0] and known[1] < end_ms:
        return None
    if known is not None and (known[1] < start_ms or known[0] >= end_ms):
        return np.empty(0, dtype=np.int64)
    column = parquet.read(columns=[TIMESTAMP]).column(TIMESTAMP)
    millis = pc.cast(column, pa.timestamp("ms", tz=column.type.tz), safe=False).cast(pa.int64())
    values = pc.fill_null(millis, np.iinfo(np.int64).min).to_numpy()
    inside = (values >= start_ms) & (values < end_ms)
    return None if inside.all() else np.flatnonzero(inside).astype(np.int64)


def _scan(
    filesystem: pa_fs.FileSystem, path: str, window: Window, required: Sequence[str], read: CaptureRead
) -> _FileRows | None:
    """Rows of one file inside the window; None (and counted) when the file is corrupt or mismatched."""
    try:
        with filesystem.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            names = set(parquet.schema_arrow.names)
            if TIMESTAMP not in names:
                read.mismatched_files[path] = [TIMESTAMP]
                return None
            in_window = _rows_in_window(parquet, window)
            rows = parquet.metadata.num_rows if in_window is None else in_window.size
    except _UNREADABLE as exc:
        _count_corrupt(read, path, exc)
        return None
    missing = [column for column in required if column not in names]
    if rows and missing:
        read.mismatched_files[path] = missing
        return None
    return _FileRows(path, rows, in_window)


def _count_corrupt(read: CaptureRead, path: str, exc: BaseException) -> None:
    read.corrupt_files.append(path)
    logger.warning("skipping unreadable capture file %s: %s", path, str(exc).splitlines()[0] if str(exc) else exc)


def _read_rows(
    filesystem: pa_fs.FileSystem, found: _FileRows, picks: NDArray[np.int64] | None, columns: Sequence[str]
) -> pa.Table:
    """The picked rows (all rows in the window when `picks` is None) of `columns`, where the file has them."""
    with filesystem.open_input_file(found.path) as handle:
        parquet = pq.ParquetFile(handle)
        names = set(parquet.schema_arrow.names)
        table = parquet.read(columns=[c for c in columns if c in names])
    rows = found.in_window
    if picks is not None:
        rows = picks if found.in_window is None else found.in_window[picks]
    return table if rows is None else table.take(pa.array(rows))


def read_window(
    uri: str,
    model: str,
    window: Window,
    required: Sequence[str],
    optional: Sequence[str] = (),
    max_rows: int = 100_000,
    seed: int = 0,
) -> CaptureRead:
    """At most `max_rows` rows of `required` (+ `optional` where present) captured in the window."""
    read = CaptureRead(frame=pd.DataFrame(columns=list(required)))
    opened = open_root(uri)
    if opened is None:
        return read
    filesystem, root = opened
    paths = list_window_files(filesystem, root, model, window)
    found = [f for path in paths if (f := _scan(filesystem, path, window, required, read)) is not None and f.rows]
    read.window_rows = sum(f.rows for f in found)
    offsets = np.cumsum([0] + [f.rows for f in found])
    chosen = None
    if read.window_rows > max_rows:
        chosen = np.sort(np.random.default_rng(seed).choice(read.window_rows, size=max_rows, replace=False))
    tables = []
    for index, rows in enumerate(found):
        picks = None
        if chosen is not None:
            lo, hi = np.searchsorted(chosen, offsets[index : index + 2])
            picks = chosen[lo:hi] - offsets[index]
            if picks.size == 0:
                continue
        try:
            tables.append(_read_rows(filesystem, rows, picks, [*required, *optional]))
        except _UNREADABLE as exc:
            _count_corrupt(read, rows.path, exc)
    read.files = len(tables)
    if tables:
        read.frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    logger.info(
        "capture: %d files in %d hour partitions, %d rows in window, %d read, %d corrupt, %d mismatched",
        len(paths),
        len(window.hours()),
        read.window_rows,
        len(read.frame),
        len(read.corrupt_files),
        len(read.mismatched_files),
    )
    return read
