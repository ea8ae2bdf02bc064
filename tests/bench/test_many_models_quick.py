"""`python -m bench --many-models --quick` runs end to end and writes its table (figures are not judged here).

Four models, 1 s loads and 3 s runs around the alias move and the broken version (12 s each by default: long
enough for the figures, which are not judged here): the bench's every step (RSS by models served, mixed
traffic, an alias move, a broken version) at the least cost, since the suite runs it on every change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import need_commands

REPO = Path(__file__).resolve().parents[2]


def test_the_quick_many_models_bench_writes_its_table(tmp_path: Path) -> None:
    need_commands("wrk", "taskset", what="the many-models bench run")
    results = tmp_path / "results-many-models.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--many-models",
            "--quick",
            "--count",
            "4",
            "--seconds",
            "1",
            "--window",
            "3",
            "--out",
            str(tmp_path / "out"),
            "--results",
            str(results),
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = results.read_text()
    assert "| goal | measured | target | met |" in table
    figures = json.loads(results.with_suffix(".json").read_text())
    assert figures["problems"] == [], figures["problems"]
    assert figures["all_serving"] is True
    assert sorted(int(k) for k in figures["rss_mib"]) == [1, 4]
    assert figures["broken_failures_counted"] >= 1
    assert figures["broken_others_serving"] is True
