"""The Arrow tables of a capture flush: one build for many small batches, cut into one table per file.

Under mixed traffic over many models each request is a one-row batch for its own model: a flush of
10,000 rows over 100 models is 100 files of ~100 rows. Building each file's table on its own costs ~2.5 ms
of fixed work per file (~45 Arrow arrays); here batches that give the same column types are built into
one table, and each file's rows are a zero-copy slice of it. Batches whose columns would not share
types (another input schema or dtype, labels against values, predictions not one per row) are built
apart, so no file's columns change type because of another model's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from service import capture_schema as cols
from service.columns import MatrixColumns, matrix_of

if TYPE_CHECKING:
    from service.capture import CapturedBatch

BUILD_ROWS = 1_000
"""Rows built into one table at most (a single file may hold more): each Arrow call of a build holds the
GIL, and one build of a whole 10,000-row flush stalls the event loop for tens of milliseconds (with a
flush built whole, the c=64 p99 over 100 models was 680-1,480 ms against 410-510 ms before:
bench/many-profile.md)."""

FileKey = tuple[str, datetime]
"""A capture file's partition: model and UTC hour."""


def files_of(batches: list[CapturedBatch]) -> Iterator[tuple[FileKey, pa.Table]]:
    """The tables to write with their partitions, each file's rows in arrival order; built as they are
    written, at most about `BUILD_ROWS` rows at a time (unless one file holds more)."""
    builds: dict[tuple[Any, ...], dict[FileKey, list[CapturedBatch]]] = {}
    hours: dict[int, datetime] = {}
    names: dict[tuple[int, str], tuple[str, ...]] = {}
    for batch in batches:  # per request, in the writer thread: the hours and names are the same for most
        hour = hours.get(number := int(batch.timestamp // 3600))
        if hour is None:
            hour = hours[number] = datetime.fromtimestamp(number * 3600, UTC)
        builds.setdefault(_kind(batch, names), {}).setdefault((batch.model, hour), []).append(batch)
    for parts in builds.values():
        chunk: list[tuple[FileKey, list[CapturedBatch], int]] = []
        rows = 0
        for key, part in parts.items():
            chunk.append((key, part, sum(batch.n_rows for batch in part)))
            rows += chunk[-1][2]
            if rows >= BUILD_ROWS:
                yield from _cut(chunk)
                chunk, rows = [], 0
        yield from _cut(chunk)


def _cut(chunk: list[tuple[FileKey, list[CapturedBatch], int]]) -> Iterator[tuple[FileKey, pa.Table]]:
    """One table for the chunk's files, each file a zero-copy slice of it."""
    if not chunk:
        return
    table = table_of([batch for _, part, _ in chunk for batch in part])
    offset = 0
    for key, _, rows in chunk:
        yield key, table.slice(offset, rows)
        offset += rows


def text_columns(table: pa.Table) -> list[str]:
    """The columns worth Parquet's dictionary encoding: text (names, versions, categories). Tried on float
    columns of distinct values, it is built and thrown away: a 10,000-row flush of 30 float inputs took 56 ms
    with it on every column, 15 ms (and a file 20% smaller) with it on text only."""
    return [field.name for field in table.schema if pa.types.is_string(field.type)]


def _kind(batch: CapturedBatch, names: dict[tuple[int, str], tuple[str, ...]]) -> tuple[Any, ...]:
    """What decides the types of a batch's columns: batches of one kind build into one table.

    `names`: the column names by (id of the checker's names list, dtype) of the batches seen in this flush
    (alive in it, so no id is reused): a request's matrix shares its version's list of names."""
    columns = batch.columns
    if isinstance(columns, MatrixColumns):
        key = (id(columns.names), columns.matrix.dtype.str)
        named = names.get(key)
        if named is None:
            named = names[key] = tuple(columns.names)
        inputs: tuple[Any, ...] = (named, key[1])
    else:
        inputs = tuple((name, np.asarray(values).dtype.str) for name, values in columns.items())
    predictions = batch.predictions if type(batch.predictions) is np.ndarray else np.asarray(batch.predictions)
    if predictions.ndim != 1 or len(predictions) != batch.n_rows:
        return inputs, "none"
    return inputs, "values" if predictions.dtype.kind in "biuf" else "labels"


def table_of(batches: list[CapturedBatch]) -> pa.Table:
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
