"""The MLflow tracking server the drift job talks to in the benchmark, as the CronJob does in the cluster.

`k8s/base` points the job at `http://mlflow...:5000`, so the job needs MLflow's REST client, not
SQLAlchemy and the database schema (about 1 s of CPU to import and check, which a check against a
local `sqlite:///` store pays). The benchmark serves its own sqlite store with `mlflow server` on a free
loopback port, measures the job against it, and reports the CPU the server spent during each check
(its whole process group, from /proc) beside the job's own figures, so nothing is hidden in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import MlflowServer

_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(group: int) -> float:
    """User + system CPU seconds of the live processes in process group `group`."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, ..., utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


@contextmanager
def tracking_server(folder: Path, backend_uri: str, env: dict[str, str]) -> Iterator[MlflowServer]:
    """`mlflow server` on `backend_uri`, artifacts under `folder/mlartifacts`; stopped on leaving."""
    server = MlflowServer(folder, backend_uri=backend_uri, extra_env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
