"""A tiny MLflow "model from code" whose predictions take as long as the request asks.

Params: `sleep_s` (seconds to sleep before answering) and `trace` (a file that gets a `start` line when
a call begins and an `end` line when it returns, so a test can count the calls a timed-out request left
running, and tell what the service did while a call was still sleeping), `release` (a file: with it the call
sleeps only until that file exists, so a test ends a hang when it chooses, not after a guessed time).
Logged by `log_sleepy_model` in `tests/hardening/test_limits.py`; MLflow executes this file to load it.
"""

from __future__ import annotations

import os
import time
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel


class SleepyModel(PythonModel):
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> list[float]:
        params = params or {}
        _trace(params, "start")
        _sleep(float(params.get("sleep_s", 0.0)), str(params.get("release") or ""))
        _trace(params, "end")
        return [2.0 * value for value in model_input["x"]]


def _sleep(seconds: float, release: str) -> None:
    if not release:
        time.sleep(seconds)
        return
    deadline = time.monotonic() + seconds
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)


def _trace(params: dict[str, Any], event: str) -> None:
    if params.get("trace"):
        with open(params["trace"], "a", encoding="utf-8") as trace:
            trace.write(f"{event}\n")


mlflow.models.set_model(SleepyModel())
