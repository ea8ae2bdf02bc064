"""The drift job reads capture files of both schema versions, side by side in one window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from drift.capture_reader import Window, read_window
from drift.prediction import MODEL_VERSION, PREDICTION
from service import capture_schema as cols
from tests.drift.capture_files import write_capture

END = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def test_old_and_new_layouts_are_read_together(tmp_path: Path) -> None:
    old = pd.DataFrame({"amount": np.arange(10.0), "country": ["fr"] * 10})
    new = pd.DataFrame({"amount": np.arange(10.0, 25.0), "country": ["de"] * 15})
    old_files = write_capture(tmp_path, "fraud", old, END - timedelta(hours=3), version="6", predictions=[1.0] * 10)
    new_files = write_capture(tmp_path, "fraud", new, END - timedelta(hours=1), version="7", schema_version=2)
    assert cols.schema_version(pq.read_schema(old_files[0]).metadata) == 1
    assert cols.schema_version(pq.read_schema(new_files[0]).metadata) == 2

    read = read_window(
        str(tmp_path),
        "fraud",
        Window(END - timedelta(hours=4), END),
        ["amount", "country"],
        [PREDICTION, MODEL_VERSION],
    )

    assert read.corrupt_files == []
    assert read.mismatched_files == {}
    assert read.window_rows == 25
    frame = read.frame.sort_values("amount").reset_index(drop=True)
    assert frame["amount"].tolist() == list(np.arange(25.0))
    assert frame[MODEL_VERSION].tolist() == ["6"] * 10 + ["7"] * 15
    assert frame[PREDICTION].tolist() == [1.0] * 10 + [0.0] * 15
