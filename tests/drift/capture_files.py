"""Write capture files exactly as the contract says the predictor does, for the drift job's tests.

`{root}/model={name}/date=YYYY-MM-DD/hour=HH/part-{unix_ms}-{host}-{pid}-{seq}.parquet` (UTC), published
by writing a dot-name and renaming; columns are the inputs plus `_request_id`, `_timestamp`
(timestamp[ms, UTC]), `_model_version` and `_prediction` (schema version 1, files written before the
audit columns), and with `schema_version=2` (the predictor's today) also the columns and metadata that
`service.capture_schema` adds.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import ArrayLike

from service import capture_schema as cols

_SEQUENCE = itertools.count()


def partition_dir(root: Path, model: str, hour: datetime) -> Path:
    hour = hour.astimezone(UTC)
    return root / f"model={model}" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"


def capture_table(
    inputs: pd.DataFrame,
    timestamps: Sequence[datetime],
    version: str,
    predictions: ArrayLike | None,
    *,
    model: str = "",
    schema_version: int = 1,
    request_ids: Sequence[str] | None = None,
) -> pa.Table:
    table = pa.Table.from_pandas(inputs.reset_index(drop=True), preserve_index=False)
    millis = [int(t.timestamp() * 1000) for t in timestamps]
    ids = list(request_ids) if request_ids is not None else [uuid.uuid4().hex for _ in millis]
    table = table.append_column(cols.REQUEST_ID, pa.array(ids, pa.string()))
    if schema_version >= 2:
        table = table.append_column(cols.SERVER_REQUEST_ID, pa.array([server_id_at(m) for m in millis], pa.string()))
    table = table.append_column(cols.TIMESTAMP, pa.array(millis, pa.timestamp("ms", tz="UTC")))
    if schema_version >= 2:
        table = table.append_column(cols.MODEL_NAME, pa.array([model] * len(millis), pa.string()))
    table = table.append_column(cols.MODEL_VERSION, pa.array([version] * len(millis), pa.string()))
    if schema_version >= 2:
        table = table.append_column(cols.RUN_ID, pa.array([f"run-of-{version}"] * len(millis), pa.string()))
        table = table.append_column(cols.RUNTIME, pa.array(["sklearn"] * len(millis), pa.string()))
    values = np.zeros(len(millis)) if predictions is None else np.asarray(predictions, dtype=np.float64)
    table = table.append_column(cols.PREDICTION, pa.array(values, pa.float64()))
    if schema_version < 2:
        return table
    table = table.append_column(cols.PROBABILITIES, pa.nulls(len(millis), pa.list_(pa.float64())))
    table = table.append_column(cols.CLASSES, pa.nulls(len(millis), pa.list_(pa.string())))
    return table.replace_schema_metadata({cols.SCHEMA_KEY: str(schema_version).encode()})


def server_id_at(millis: int) -> str:
    """A server request id made at `millis` (what `service.middleware.new_server_id` makes at that time)."""
    return uuid.UUID(int=millis << 80 | 0x7 << 76 | 0b10 << 62 | uuid.uuid4().int & (1 << 62) - 1).hex


def write_capture(
    root: Path,
    model: str,
    inputs: pd.DataFrame,
    timestamps: datetime | Sequence[datetime],
    *,
    version: str = "1",
    predictions: ArrayLike | None = None,
    rows_per_file: int | None = None,
    schema_version: int = 1,
    request_ids: Sequence[str] | None = None,
) -> list[Path]:
    """Write `inputs` as capture files, one or more per hour partition of the rows' timestamps."""
    stamps = [timestamps] * len(inputs) if isinstance(timestamps, datetime) else list(timestamps)
    table = capture_table(
        inputs, stamps, version, predictions, model=model, schema_version=schema_version, request_ids=request_ids
    )
    hours = pd.Series([t.astimezone(UTC).replace(minute=0, second=0, microsecond=0) for t in stamps])
    written = []
    for hour, rows in hours.groupby(hours).groups.items():
        positions = np.asarray(list(rows))
        size = rows_per_file or len(positions)
        for start in range(0, len(positions), size):
            folder = partition_dir(root, model, hour.to_pydatetime())
            folder.mkdir(parents=True, exist_ok=True)
            stamp = int(stamps[positions[start]].timestamp() * 1000)
            name = f"part-{stamp}-testhost-{os.getpid()}-{next(_SEQUENCE)}.parquet"
            temporary = folder / f".{name}.tmp"
            pq.write_table(table.take(pa.array(positions[start : start + size])), temporary)
            temporary.rename(folder / name)
            written.append(folder / name)
    return written
