"""A tiny MLflow "model from code" that is slow and raises on some rows, to watch adaptive batching.

Each call sleeps 0.2 s (so concurrent requests queue behind it and are merged into the next call), then
raises ValueError if any `x` is negative. With `PICKY_MODEL_TRACE` set in the service's environment each
call appends `rows=<n> ok|raised` to that file. No params: requests with params are never merged.
Logged by `log_picky_model` in `tests/service/test_batching.py`; MLflow executes this file to load it.
"""

from __future__ import annotations

import os
import time
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel

CALL_S = 0.2


class PickyModel(PythonModel):
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> list[float]:
        values = [float(x) for x in model_input["x"]]
        time.sleep(CALL_S)
        raised = any(x < 0 for x in values)
        if trace := os.environ.get("PICKY_MODEL_TRACE"):
            with open(trace, "a", encoding="utf-8") as out:
                out.write(f"rows={len(values)} {'raised' if raised else 'ok'}\n")
        if raised:
            raise ValueError("negative x")
        return [2.0 * x for x in values]


mlflow.models.set_model(PickyModel())
