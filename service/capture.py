"""Records inference inputs for drift monitoring, off the request path.

Requests hand their rows to a bounded in-memory queue (never blocking: when full, rows are dropped and
counted); a writer thread publishes them as Parquet files, Hive-partitioned by model, date and hour so a
time window is read without scanning everything. A model's rows are written once it holds `flush_rows` or
its oldest waiting rows are `flush_interval_s` old; when the queue holds half of `max_rows`, every model's
rows are written. Over many models each file then holds many rows: a flush of 10,000 rows over 100 models
made 100 files of ~100 rows, each costing ~1.3 ms of fixed Parquet work, and the drift job reads as many:
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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from service.capture_table import FileKey, files_of, text_columns
from service.columns import Columns
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


ZSTD_FROM_ROWS = 1_000
"""Files of at least this many rows are compressed with zstd; smaller ones (a model's few rows in a flush
over many models) with snappy: zstd sets up a context per column, 1.5 ms of a 100-row file's 4 ms here,
for a file 1% smaller."""


def _encoding(table: pa.Table) -> dict[str, Any]:
    return {
        "compression": "zstd" if table.num_rows >= ZSTD_FROM_ROWS else "snappy",
        "use_dictionary": text_columns(table),
    }


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
        self._pending: dict[str, deque[CapturedBatch]] = {}
        """Each model's waiting batches, in arrival order."""
        self._rows_of: dict[str, int] = {}
        self._since: dict[str, float] = {}
        """`time.monotonic()` when a model's oldest waiting rows arrived (or its last write, for the rows after)."""
        self._pending_rows = 0
        self._pressure_rows = max(1, max_rows // 2)
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
            model = batch.model
            waiting = self._pending.get(model)
            if waiting is None:
                waiting = self._pending[model] = deque()
                self._rows_of[model] = 0
                self._since[model] = time.monotonic()
            waiting.append(batch)
            rows = self._rows_of[model] = self._rows_of[model] + batch.n_rows
            self._pending_rows += batch.n_rows
            if rows >= self.flush_rows or self._pending_rows >= self._pressure_rows:
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
                while not self._closing and not (due := self._due()):
                    self._cond.wait(timeout=self._time_left())
                closing = self._closing
                batches = {model: list(self._pending[model]) for model in (self._pending if closing else due)}
            if batches:
                self._write(batches)
            if closing:
                with self._cond:
                    if not self._pending or self._failing:
                        return

    def _due(self) -> list[str]:
        """The models whose rows are to be written now (none: wait)."""
        if self._pending_rows >= self._pressure_rows:
            return list(self._pending)
        now = time.monotonic()
        return [
            model
            for model, rows in self._rows_of.items()
            if rows >= self.flush_rows or now - self._since[model] >= self.flush_interval_s
        ]

    def _time_left(self) -> float:
        if not self._since:
            return self.flush_interval_s
        return max(0.05, self.flush_interval_s - (time.monotonic() - min(self._since.values())))

    def _write(self, batches: dict[str, list[CapturedBatch]]) -> None:
        try:
            rows = 0
            for key, table in files_of([batch for part in batches.values() for batch in part]):
                self._write_file(key, table)
                rows += table.num_rows
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
            now = time.monotonic()
            for model, part in batches.items():
                waiting = self._pending[model]
                for _ in part:
                    waiting.popleft()
                if waiting:
                    self._rows_of[model] -= sum(batch.n_rows for batch in part)
                    self._since[model] = now
                else:
                    del self._pending[model], self._rows_of[model], self._since[model]
            self._pending_rows -= rows
        self.metrics.capture_rows.inc(rows)

    def _write_file(self, key: FileKey, table: pa.Table) -> None:
        model, hour = key
        folder = f"{self.root}/model={model}/date={hour:%Y-%m-%d}/hour={hour:%H}"
        name = f"part-{int(time.time() * 1000)}-{self._host}-{os.getpid()}-{next(self._seq)}.parquet"
        if self.local:
            self.fs.create_dir(folder, recursive=True)
            temporary = f"{folder}/.{name}.tmp"
            pq.write_table(table, temporary, filesystem=self.fs, **_encoding(table))
            self.fs.move(temporary, f"{folder}/{name}")
        else:
            pq.write_table(table, f"{folder}/{name}", filesystem=self.fs, **_encoding(table))
