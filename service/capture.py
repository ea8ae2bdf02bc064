"""Records inference inputs for drift monitoring, off the request path.

Requests hand their rows to a bounded in-memory queue (never blocking: when full, rows are dropped and
counted); a writer thread publishes them as Parquet files, Hive-partitioned by model, date and hour so a
time window is read without scanning everything:
`{root}/model={name}/date=YYYY-MM-DD/hour=HH/part-{unix_ms}-{host}-{pid}-{seq}.parquet`.
The columns are the contract of `service.capture_schema` (documented in the README, "Capture files").
Local files are written under a dot-name and renamed, so readers never see half a file. A failed write
keeps its rows for the next attempt; `close()` (graceful shutdown) writes everything that was accepted.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from service import capture_schema as cols
from service.columns import Columns, matrix_of
from service.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class CapturedBatch:
    """One request's rows as the model saw them, what it answered, and who answered."""

    model: str
    version: str
    columns: Columns
    n_rows: int
    request_id: str
    timestamp: float
    predictions: Any
    """Labels (or values) per row; for `predict_proba`, the most probable class."""
    server_request_id: str | None = None
    run_id: str | None = None
    runtime: str | None = None
    probabilities: np.ndarray | None = None
    """Rows by classes, when `predict_proba` was asked; `classes` names the columns."""
    classes: list[Any] | None = None
    shadow_version: str | None = None
    """The shadow version that scored these rows too (service/shadow.py); None when they were not shadowed."""
    shadow_predictions: Any = None
    shadow_probabilities: np.ndarray | None = None
    """In the order of `classes`, when both versions gave probabilities for the same classes."""
    shadow_error: str | None = None
    """Why the shadow has no answer for these rows: "dropped" (queue full) or the exception type it raised."""


def open_root(uri: str) -> tuple[pafs.FileSystem, str, bool]:
    """The filesystem, the root path on it, and whether it is a local folder.

    Only a local folder needs its directories made, and only there is a rename atomic: on object storage
    `create_dir` writes empty marker objects and a "rename" is a copy.
    """
    if "://" in uri:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        return filesystem, path.rstrip("/"), isinstance(filesystem, pafs.LocalFileSystem)
    return pafs.LocalFileSystem(), os.path.abspath(uri), True


class CaptureWriter:
    def __init__(
        self,
        uri: str,
        metrics: Metrics,
        max_rows: int = 100_000,
        flush_rows: int = 10_000,
        flush_interval_s: float = 60,
    ) -> None:
        self.fs, self.root, self.local = open_root(uri)
        if self.local:  # at start, so a drift job that runs before the first flush finds an empty root
            try:
                self.fs.create_dir(self.root, recursive=True)
            except OSError as exc:
                log.error("cannot create the capture root %s: %s (writes will fail and be counted)", self.root, exc)
        self.metrics = metrics
        self.max_rows = max_rows
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._pending: deque[CapturedBatch] = deque()
        self._pending_rows = 0
        self._oldest = 0.0
        self._cond = threading.Condition()
        self._closing = False
        self._failing = False
        self._seq = itertools.count()
        self._host = socket.gethostname().replace("-", "_")[:32]
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._thread.start()

    def offer(self, batch: CapturedBatch) -> bool:
        """Queue a request's rows; False (and counted as dropped) when the queue is full or closing."""
        with self._cond:
            if self._closing or self._pending_rows + batch.n_rows > self.max_rows:
                self.metrics.capture_dropped.inc(batch.n_rows)
                return False
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(batch)
            self._pending_rows += batch.n_rows
            if self._pending_rows >= self.flush_rows:
                self._cond.notify()
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write everything accepted so far, then stop the writer thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._pending_rows:
            log.error("capture: %d accepted rows could not be written before shutdown", self._pending_rows)
            self.metrics.capture_dropped.inc(self._pending_rows)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._due():
                    self._cond.wait(timeout=self._time_left())
                closing = self._closing
                batches = list(self._pending)
            if batches:
                self._write(batches)
            if closing:
                with self._cond:
                    if not self._pending or self._failing:
                        return

    def _due(self) -> bool:
        return self._pending_rows >= self.flush_rows or (
            bool(self._pending) and time.monotonic() - self._oldest >= self.flush_interval_s
        )

    def _time_left(self) -> float:
        if not self._pending:
            return self.flush_interval_s
        return max(0.05, self.flush_interval_s - (time.monotonic() - self._oldest))

    def _write(self, batches: list[CapturedBatch]) -> None:
        try:
            rows = 0
            for (model, hour, _names), group in _partitions(batches).items():
                self._write_file(model, hour, group)
                rows += sum(b.n_rows for b in group)
        except Exception as exc:  # kept for the next attempt; counted; logged once per state change
            self.metrics.capture_errors.inc()
            if not self._failing:
                log.error(
                    "capture: writing to %s failed (%s: %s); rows kept for retry", self.root, type(exc).__name__, exc
                )
            self._failing = True
            with self._cond:
                if not self._closing:
                    self._cond.wait(timeout=1.0)
            return
        if self._failing:
            log.info("capture: writing to %s works again", self.root)
        self._failing = False
        with self._cond:
            for _ in batches:
                self._pending.popleft()
            self._pending_rows -= rows
            self._oldest = time.monotonic()
        self.metrics.capture_rows.inc(rows)

    def _write_file(self, model: str, hour: datetime, batches: list[CapturedBatch]) -> None:
        folder = f"{self.root}/model={model}/date={hour:%Y-%m-%d}/hour={hour:%H}"
        name = f"part-{int(time.time() * 1000)}-{self._host}-{os.getpid()}-{next(self._seq)}.parquet"
        table = _table(batches)
        if self.local:
            self.fs.create_dir(folder, recursive=True)
            temporary = f"{folder}/.{name}.tmp"
            pq.write_table(table, temporary, filesystem=self.fs, compression="zstd")
            self.fs.move(temporary, f"{folder}/{name}")
        else:
            pq.write_table(table, f"{folder}/{name}", filesystem=self.fs, compression="zstd")


def _partitions(batches: list[CapturedBatch]) -> dict[tuple[str, datetime, tuple[str, ...]], list[CapturedBatch]]:
    """Batches grouped by file: same model, same UTC hour, same columns (versions may differ in schema)."""
    groups: dict[tuple[str, datetime, tuple[str, ...]], list[CapturedBatch]] = {}
    for batch in batches:
        hour = datetime.fromtimestamp(batch.timestamp, UTC).replace(minute=0, second=0, microsecond=0)
        groups.setdefault((batch.model, hour, tuple(batch.columns)), []).append(batch)
    return groups


def _table(batches: list[CapturedBatch]) -> pa.Table:
    arrays = _inputs(batches)
    counts = [b.n_rows for b in batches]
    one_row_each = sum(counts) == len(counts)

    def per_row(values: list[Any], kind: pa.DataType) -> pa.Array:
        if one_row_each:
            return pa.array(values, type=kind)
        return pa.array(np.repeat(np.asarray(values, dtype=object), counts), type=kind)

    arrays[cols.REQUEST_ID] = per_row([b.request_id for b in batches], pa.string())
    arrays[cols.SERVER_REQUEST_ID] = per_row([b.server_request_id for b in batches], pa.string())
    stamps = np.repeat([int(b.timestamp * 1000) for b in batches], counts)
    arrays[cols.TIMESTAMP] = pa.array(stamps, type=pa.timestamp("ms", tz="UTC"))
    arrays[cols.MODEL_NAME] = per_row([b.model for b in batches], pa.string())
    arrays[cols.MODEL_VERSION] = per_row([b.version for b in batches], pa.string())
    arrays[cols.RUN_ID] = per_row([b.run_id for b in batches], pa.string())
    arrays[cols.RUNTIME] = per_row([b.runtime for b in batches], pa.string())
    arrays[cols.PREDICTION] = _predictions(batches)
    arrays[cols.PROBABILITIES], arrays[cols.CLASSES] = _probabilities(batches)
    arrays[cols.SHADOW_VERSION] = per_row([b.shadow_version for b in batches], pa.string())
    arrays[cols.SHADOW_PREDICTION] = _shadow_predictions(batches, arrays[cols.PREDICTION].type)
    arrays[cols.SHADOW_PROBABILITIES] = _per_row_lists([(b.shadow_probabilities, b.n_rows) for b in batches])
    arrays[cols.SHADOW_ERROR] = per_row([b.shadow_error for b in batches], pa.string())
    metadata = {cols.SCHEMA_KEY: str(cols.SCHEMA_VERSION).encode()}
    return pa.table(arrays).replace_schema_metadata(metadata)


def _inputs(batches: list[CapturedBatch]) -> dict[str, pa.Array]:
    """The input columns: one concatenation of the batches' matrices when every batch has one (the flush
    then holds the GIL for milliseconds, not the ~0.7 s per 10,000 one-row batches of a column-by-column
    concatenation, measured here), else column by column."""
    names = list(batches[0].columns)
    blocks = [block for b in batches if (block := matrix_of(b.columns)) is not None]
    if len(blocks) == len(batches):
        merged = np.concatenate(blocks, axis=1)
        return {name: pa.array(merged[i], from_pandas=True) for i, name in enumerate(names)}
    return {name: pa.array(np.concatenate([b.columns[name] for b in batches]), from_pandas=True) for name in names}


def _predictions(batches: list[CapturedBatch]) -> pa.Array:
    parts = [np.asarray(b.predictions) for b in batches]
    if any(p.ndim != 1 or len(p) != b.n_rows for p, b in zip(parts, batches, strict=True)):
        return pa.nulls(sum(b.n_rows for b in batches), type=pa.float64())
    merged = np.concatenate(parts)
    if merged.dtype.kind in "biuf":
        return pa.array(merged.astype(np.float64))
    return pa.array(merged.astype(str))


def _shadow_predictions(batches: list[CapturedBatch], kind: pa.DataType) -> pa.Array:
    """The shadow's label or value per row, in `_prediction`'s type (null where it has none or not that type)."""
    values: list[Any] = []
    for batch in batches:
        shadow = None if batch.shadow_predictions is None else np.asarray(batch.shadow_predictions)
        if shadow is None or shadow.ndim != 1 or len(shadow) != batch.n_rows:
            values.extend([None] * batch.n_rows)
        elif pa.types.is_floating(kind):
            values.extend(shadow.astype(np.float64).tolist() if shadow.dtype.kind in "biuf" else [None] * batch.n_rows)
        else:
            values.extend(shadow.astype(str).tolist())
    return pa.array(values, type=kind)


def _per_row_lists(parts: list[tuple[np.ndarray | None, int]]) -> pa.Array:
    """Rows of floats (a probability vector per row), null for the parts that have none."""
    rows: list[list[float] | None] = []
    for values, n_rows in parts:
        rows.extend([None] * n_rows if values is None else np.asarray(values, dtype=np.float64).tolist())
    return pa.array(rows, pa.list_(pa.float64()))


def _probabilities(batches: list[CapturedBatch]) -> tuple[pa.Array, pa.Array]:
    """Per row, the class probabilities and the classes they belong to (nulls where none were asked)."""
    probabilities: list[list[float] | None] = []
    classes: list[list[str] | None] = []
    for batch in batches:
        if batch.probabilities is None or batch.classes is None:
            probabilities.extend([None] * batch.n_rows)
            classes.extend([None] * batch.n_rows)
            continue
        names = [str(c) for c in batch.classes]
        probabilities.extend(np.asarray(batch.probabilities, dtype=np.float64).tolist())
        classes.extend([names] * batch.n_rows)
    return pa.array(probabilities, pa.list_(pa.float64())), pa.array(classes, pa.list_(pa.string()))
