"""Run `python -m drift audit` as a real process and read its JSON lines back."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests.drift.capture_files import write_capture
from tests.processes import REPO, base_env


@dataclass(frozen=True)
class Audit:
    code: int
    rows: list[dict[str, Any]]
    stderr: str


def audit(capture_uri: str, *args: str, **env: str) -> Audit:
    """`python -m drift audit --capture-uri URI ARGS`, with settings from `env` only."""
    done = subprocess.run(
        [sys.executable, "-m", "drift", "audit", "--capture-uri", capture_uri, *args],
        cwd=REPO,
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Audit(done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line], done.stderr)


def write_requests(root: Path, start: datetime, n: int, rows_per_request: int, rows_per_file: int) -> pd.DataFrame:
    """`n` rows of model `fraud` version 7, one every 30 s from `start`, as requests `req-0`, `req-1`...
    of `rows_per_request` rows (schema version 2; prediction: row number modulo 2); returns them with
    their `at` and `request_id`."""
    rng = np.random.default_rng(n)
    rows = pd.DataFrame({"amount": rng.gamma(2.0, 50.0, n), "country": rng.choice(["fr", "de", "es"], n)})
    rows["at"] = [start + timedelta(seconds=30 * i) for i in range(n)]
    rows["request_id"] = [f"req-{i // rows_per_request}" for i in range(n)]
    write_capture(
        root,
        "fraud",
        rows[["amount", "country"]],
        list(rows["at"]),
        version="7",
        predictions=np.arange(n) % 2,
        rows_per_file=rows_per_file,
        schema_version=2,
        request_ids=list(rows["request_id"]),
    )
    return rows
