"""Write capture files exactly as the contract says the predictor does, for the drift job's tests.

`{root}/model={name}/date=YYYY-MM-DD/hour=HH/part-{unix_ms}-{host}-{pid}-{seq}.parquet` (UTC), published
by writing a dot-name and renaming; columns are the inputs plus `_request_id`, `_timestamp`
(timestamp[ms, UTC]), `_model_version` and `_prediction`.
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

_SEQUENCE = itertools.count()


def partition_dir(root: Path, model: str, hour: datetime) -> Path:
    hour = hour.astimezone(UTC)
    return root / f"model={model}" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"


def capture_table(
    inputs: pd.DataFrame, timestamps: Sequence[datetime], version: str, predictions: ArrayLike | None
) -> pa.Table:
    table = pa.Table.from_pandas(inputs.reset_index(drop=True), preserve_index=False)
    millis = [int(t.timestamp() * 1000) for t in timestamps]
    table = table.append_column("_request_id", pa.array([uuid.uuid4().hex for _ in millis], pa.string()))
    table = table.append_column("_timestamp", pa.array(millis, pa.timestamp("ms", tz="UTC")))
    table = table.append_column("_model_version", pa.array([version] * len(millis), pa.string()))
    values = np.zeros(len(millis)) if predictions is None else np.asarray(predictions, dtype=np.float64)
    return table.append_column("_prediction", pa.array(values, pa.float64()))


def write_capture(
    root: Path,
    model: str,
    inputs: pd.DataFrame,
    timestamps: datetime | Sequence[datetime],
    *,
    version: str = "1",
    predictions: ArrayLike | None = None,
    rows_per_file: int | None = None,
) -> list[Path]:
    """Write `inputs` as capture files, one or more per hour partition of the rows' timestamps."""
    stamps = [timestamps] * len(inputs) if isinstance(timestamps, datetime) else list(timestamps)
    table = capture_table(inputs, stamps, version, predictions)
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
