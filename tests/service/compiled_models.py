"""Registered versions for the compiled-model tests: trained and logged by the training pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from tests.conftest import RegisteredModel
from tests.processes import MlflowServer


def register(server: MlflowServer, name: str, estimator: Any, frame: pd.DataFrame) -> RegisteredModel:
    """`estimator` fitted on `frame` (label column `target`), registered as `name` and aliased Production."""
    from training.train import train_and_register

    result = train_and_register(
        name, frame, "target", estimator=clone(estimator), alias="Production", tracking_uri=server.uri
    )
    return RegisteredModel(name, str(result.version), result.run_id, frame, server.uri)


def disagreeing_frame(rows: int = 200) -> pd.DataFrame:
    """One feature whose values differ only beyond float32's precision, and a label split in their middle.

    scikit-learn's HistGradientBoosting bins and compares in float64 and separates the classes; in float32
    every value is 1.0, so any compiled graph comparing in float32 predicts one class for all rows.
    """
    steps = np.arange(rows)
    return pd.DataFrame({"x": 1.0 + steps * 1e-10, "target": (steps >= rows // 2).astype("int64")})
