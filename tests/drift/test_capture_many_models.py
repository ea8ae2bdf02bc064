"""The drift job's reader over files the predictor's capture writer made for many models under queue
pressure (half of `CAPTURE_QUEUE_ROWS` held: every model written at once, a few rows a file): each model
reads back exactly its own rows, all of them, from many small files."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from drift.capture_reader import Window, read_window
from service.capture import CapturedBatch, CaptureWriter
from service.capture_schema import MODEL_VERSION, REQUEST_ID
from service.metrics import Metrics
from tests.helpers import wait_until

MODELS = [f"m{i}" for i in range(5)]
ROUNDS, ROWS_EACH = 10, 4


def _value(model: int, round_no: int, row: int) -> float:
    return model * 10_000 + round_no * 100 + row


def test_each_model_reads_back_its_own_rows_from_files_written_under_pressure(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry())
    # 20 rows a round over 5 models: each round fills half the queue, so each round writes every model's rows.
    writer = CaptureWriter(str(tmp_path), metrics, max_rows=40, flush_rows=1_000, flush_interval_s=3600)
    started = datetime.now(UTC)
    written = 0
    for round_no in range(ROUNDS):
        for index, model in enumerate(MODELS):
            for row in range(ROWS_EACH):  # one-row requests, interleaved across models as mixed traffic sends them
                columns = {"x": np.array([_value(index, round_no, row)])}
                request = f"{model}-{round_no}-{row}"
                writer.offer(CapturedBatch(model, "1", columns, 1, request, time.time(), np.array([0])))
        written += len(MODELS) * ROWS_EACH

        def caught_up(expected: int = written) -> bool:
            return metrics.registry.get_sample_value("capture_rows_total") == expected

        wait_until(caught_up, timeout=30, what=f"round {round_no}'s rows written")
    writer.close()
    assert (metrics.registry.get_sample_value("capture_dropped_rows_total") or 0) == 0

    window = Window(started - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1))
    for index, model in enumerate(MODELS):
        files = list((tmp_path / f"model={model}").rglob("*.parquet"))
        assert len(files) == ROUNDS  # one small file a round: the pressure path, not one big file
        read = read_window(str(tmp_path), model, window, ["x"], [REQUEST_ID, MODEL_VERSION])
        assert read.window_rows == ROUNDS * ROWS_EACH
        expected = sorted(_value(index, r, row) for r in range(ROUNDS) for row in range(ROWS_EACH))
        assert sorted(read.frame["x"].tolist()) == expected  # every row, none of another model's
        assert set(read.frame[REQUEST_ID].str.split("-").str[0]) == {model}
