"""Run `python -m drift run` as a real process, and make capture rows from the demo data."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from tests.processes import REPO, base_env

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""End of every test's window (`--window-end`), so captures can be written at fixed times."""


@dataclass(frozen=True)
class Outcome:
    """Exit code and output of one `python -m drift run`; `result` is the JSON of its last stdout line."""

    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout.strip().splitlines()[-1]))


def start_drift(args: list[str], **env: str) -> subprocess.Popen[str]:
    """`python -m drift run --window-end END ...` with MLflow and capture settings from `env` only."""
    command = [sys.executable, "-m", "drift", "run", "--window-end", END.isoformat(), *args]
    return subprocess.Popen(
        command, cwd=REPO, env=base_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_drift(processes: dict[str, subprocess.Popen[str]]) -> dict[str, Outcome]:
    """Wait for processes started together (they run side by side: each spends seconds importing MLflow)."""
    outcomes = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=240)
        outcomes[name] = Outcome(process.returncode, stdout, stderr)
    return outcomes


def demo_rows(frame: pd.DataFrame, n: int, shift: bool, seed: int) -> pd.DataFrame:
    """Rows drawn from the demo data; `shift` moves two numeric columns by 0.5σ and a fifth of size_band."""
    rows = frame.drop(columns=["target"]).sample(n=n, replace=True, random_state=seed).reset_index(drop=True)
    if shift:
        for column in ("mean_radius", "mean_smoothness"):
            rows[column] += 0.5 * frame[column].std()
        rows.loc[np.random.default_rng(seed).random(n) < 0.2, "size_band"] = "large"
    return rows


class ZeroPredictor:
    """Stands in for a model where the predictions do not matter to the test."""

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(rows))
