"""The drift benchmark's data: 100,000 reference and 1,000,000 captured rows of 30 columns.

25 numeric columns (normal with different scales, the last five log-normal) and 5 string columns (3 to
50 categories). In the captured rows `n00`, `n01`, `n02` are shifted by 0.05, 0.1 and 0.2 of their
standard deviation and the mix of `c0` moves by 5 points (0.50/0.30/0.20 -> 0.45/0.35/0.20); everything
else is drawn from the reference distributions. The reference goes through the real training pipeline
(a registered `drift-bench` model, aliased Production, whose run logs `reference/reference.parquet`) and
the captured rows are written as the predictor's capture files (100 files of 10,000 rows over 24 hours,
with the model's predictions), so the benchmark times the job exactly as a CronJob runs it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

MODEL = "drift-bench"
END = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = timedelta(hours=24)
REFERENCE_ROWS = 100_000
CURRENT_ROWS = 1_000_000
FILE_ROWS = 10_000
NUMERIC = [f"n{j:02d}" for j in range(25)]
SHIFTS = {"n00": 0.05, "n01": 0.1, "n02": 0.2}
CATEGORIES = {"c0": 3, "c1": 5, "c2": 10, "c3": 20, "c4": 50}
C0_REFERENCE, C0_CURRENT = [0.5, 0.3, 0.2], [0.45, 0.35, 0.2]
EXPECTED_DRIFT = {"n00", "n01", "n02", "c0"}


def _shares(column: str, current: bool) -> list[float]:
    if column == "c0":
        return C0_CURRENT if current else C0_REFERENCE
    weights = 1.0 / np.arange(1, CATEGORIES[column] + 1)
    return list(weights / weights.sum())


def sample(n: int, seed: int, current: bool) -> pd.DataFrame:
    """`n` rows of the reference distributions, or of the current ones (with the shifts)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for j, name in enumerate(NUMERIC):
        scale = 1.0 + j / 10
        if j < 20:
            values = rng.normal(loc=float(j), scale=scale, size=n)
        else:
            values = rng.lognormal(mean=0.0, sigma=0.5, size=n) * scale
        if current and name in SHIFTS:
            values = values + SHIFTS[name] * scale
        columns[name] = values
    for name, count in CATEGORIES.items():
        labels = np.array([f"{name}_{k}" for k in range(count)])
        columns[name] = pd.Series(rng.choice(labels, p=_shares(name, current), size=n), dtype="str")
    return pd.DataFrame(columns)


def training_frame(seed: int = 1) -> pd.DataFrame:
    """The reference rows with a label that depends on a few unshifted columns."""
    frame = sample(REFERENCE_ROWS, seed, current=False)
    rng = np.random.default_rng(seed + 1)
    score = frame["n03"] - 3.0 - (frame["n04"] - 4.0) + 0.8 * (frame["c1"] == "c1_0") + rng.normal(size=len(frame))
    frame["target"] = (score > 0).astype("int64")
    return frame


def prepare(folder: Path) -> dict[str, str]:
    """Register the model and write the capture under `folder` once; returns paths and URIs used by the runs."""
    import mlflow

    from tests.drift.capture_files import write_capture
    from training.train import train_and_register

    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "prepared.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    tracking = f"sqlite:///{folder / 'mlflow.db'}"
    frame = training_frame()
    result = train_and_register(MODEL, frame, "target", alias="Production", tracking_uri=tracking)
    reference = folder / "reference.parquet"
    frame.drop(columns=["target"]).to_parquet(reference)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{result.version}")
    capture = folder / "capture"
    step = WINDOW / (CURRENT_ROWS // FILE_ROWS)
    for index in range(CURRENT_ROWS // FILE_ROWS):
        rows = sample(FILE_ROWS, 1_000 + index, current=True)
        start = END - WINDOW + index * step
        stamps = [start + step * (k / FILE_ROWS) for k in range(FILE_ROWS)]
        write_capture(capture, MODEL, rows, stamps, version=str(result.version), predictions=model.predict(rows))
    paths = {"tracking_uri": tracking, "capture": str(capture), "reference": str(reference), "model": MODEL}
    done.write_text(json.dumps(paths))
    return paths
