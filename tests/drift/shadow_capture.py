"""Write capture files of schema 3 (the shadow's output beside production's), as the service does.

The columns are the schema-2 ones (`tests/drift/capture_files.py`) plus `_shadow_version` (string),
`_shadow_prediction` (the type of `_prediction`), `_shadow_probabilities` (list of floats) and
`_shadow_error` (string, null when the shadow scored the row).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import ArrayLike

from service import capture_schema as cols
from tests.drift.capture_files import _SEQUENCE, capture_table, partition_dir

SCHEMA_VERSION = 3


def write_shadow_capture(
    root: Path,
    model: str,
    inputs: pd.DataFrame,
    at: datetime,
    *,
    version: str,
    predictions: ArrayLike,
    shadow_version: str | None,
    shadow_predictions: ArrayLike | None,
    shadow_errors: Sequence[str | None] | None = None,
) -> Path:
    """One published capture file of `inputs` captured at `at` (one hour partition)."""
    rows = len(inputs)
    table = capture_table(inputs, [at] * rows, version, predictions, model=model, schema_version=2)
    shadow = np.zeros(rows) if shadow_predictions is None else np.asarray(shadow_predictions, dtype=np.float64)
    errors = list(shadow_errors) if shadow_errors is not None else [None] * rows
    shadow_values = [None if error is not None else float(value) for value, error in zip(shadow, errors, strict=True)]
    table = table.append_column("_shadow_version", pa.array([shadow_version] * rows, pa.string()))
    table = table.append_column("_shadow_prediction", pa.array(shadow_values, pa.float64()))
    table = table.append_column("_shadow_probabilities", pa.nulls(rows, pa.list_(pa.float64())))
    table = table.append_column("_shadow_error", pa.array(errors, pa.string()))
    table = table.replace_schema_metadata({cols.SCHEMA_KEY: str(SCHEMA_VERSION).encode()})
    folder = partition_dir(root, model, at)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{int(at.timestamp() * 1000)}-testhost-{os.getpid()}-{next(_SEQUENCE)}.parquet"
    pq.write_table(table, folder / f".{name}.tmp")
    (folder / f".{name}.tmp").rename(folder / name)
    return folder / name
