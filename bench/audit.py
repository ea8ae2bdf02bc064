"""How long `python -m drift audit` takes on a day of capture: 1,000,000 rows of 30 columns.

The rows are the drift bench's current rows (bench/drift/data.py), written as the predictor's capture
files of schema version 2 (120 files of up to 10,000 rows over 24 hours, one request every 4 rows with
a client id, a server id per row). Three lookups, each timed in-process (`drift.audit.find` and the JSON
rows: what the command does after its imports) and as the whole command (a new Python process):
- a client id: no time in it, so the id columns of every file are read;
- a server id: its time selects two hour partitions, statistics skip the files around it;
- a 10-minute range: one hour partition, statistics skip the rows outside.

    .venv/bin/python -m bench.audit [--rounds 5] [--folder bench/out/audit]

Writes the table to bench/audit_results.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.drift.data import CURRENT_ROWS, END, FILE_ROWS, WINDOW, sample
from drift.audit import AuditQuery, find
from drift.audit_rows import rows
from drift.capture_reader import Window

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MODEL = "audit-bench"
ROWS_PER_REQUEST = 4


def prepare(folder: Path) -> Path:
    """Write the capture once; returns its root."""
    from tests.drift.capture_files import write_capture

    root = folder / "capture"
    if (folder / "prepared").exists():
        return root
    frame = sample(CURRENT_ROWS, seed=3, current=True)
    step = WINDOW / CURRENT_ROWS
    stamps = [END - WINDOW + step * i for i in range(CURRENT_ROWS)]
    ids = [f"client-{i // ROWS_PER_REQUEST}" for i in range(CURRENT_ROWS)]
    write_capture(
        root,
        MODEL,
        frame,
        stamps,
        version="1",
        predictions=np.arange(CURRENT_ROWS) % 2,
        rows_per_file=FILE_ROWS,
        schema_version=2,
        request_ids=ids,
    )
    (folder / "prepared").write_text("ok")
    return root


def _server_id(root: Path) -> str:
    """The server id of a row in the middle of the day."""
    files = sorted(root.rglob("*.parquet"))
    table = pq.read_table(files[len(files) // 2], columns=["_server_request_id"])
    return str(table.column(0)[len(table) // 2])


def _in_process(root: Path, query: AuditQuery) -> tuple[float, int]:
    started = time.perf_counter()
    found = sum(1 for match in find(str(root), query) for _ in rows(match))
    return time.perf_counter() - started, found


def _command(root: Path, args: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of the whole command (CPU time is what a loaded machine cannot inflate)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "drift", "audit", "--capture-uri", str(root), *args],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - started, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=BENCH / "out" / "audit")
    options = parser.parse_args()
    root = prepare(options.folder)
    files = len(list(root.rglob("*.parquet")))
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    since = END - timedelta(hours=7, minutes=25)
    until = since + timedelta(minutes=10)
    cases = {
        "client id (every file's id columns)": (AuditQuery("client-123456"), ["--request-id", "client-123456"]),
        "server id (its hour, statistics)": (AuditQuery(_server_id(root)), ["--request-id", _server_id(root)]),
        "10-minute range": (
            AuditQuery(window=Window(since, until)),
            ["--since", since.isoformat(), "--until", until.isoformat()],
        ),
    }
    lines = [
        f"Capture: {CURRENT_ROWS:,} rows, {files} files, {size / 1e6:.0f} MB, 24 hours. "
        f"Medians of {options.rounds} rounds.",
        "",
        "| lookup | rows found | in-process | whole command | its CPU time |",
        "|---|---|---|---|---|",
    ]
    for name, (query, args) in cases.items():
        inner = [_in_process(root, query) for _ in range(options.rounds)]
        whole = [_command(root, args) for _ in range(options.rounds)]
        found = inner[0][1]
        median = statistics.median(t for t, _ in inner)
        wall, cpu = (statistics.median(values) for values in zip(*whole, strict=True))
        lines.append(f"| {name} | {found} | {median * 1000:.0f} ms | {wall:.2f} s | {cpu:.2f} s |")
    lines += [
        "",
        f"Machine: {os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f} at the end);",
        "the whole command's time is mostly importing pyarrow and pandas, and waits for CPU on a loaded machine.",
    ]
    text = "\n".join(lines)
    print(text)
    (BENCH / "audit_results.md").write_text("# `python -m drift audit` on a day of capture\n\n" + text + "\n")


if __name__ == "__main__":
    main()
