"""What each worker process serves, read from prometheus-client's multiprocess files.

With several workers (`WORKERS > 1`, or `PROMETHEUS_MULTIPROC_DIR` set as the image does) every worker
writes its gauges to its own files, `gauge_<mode>_<pid>.db`, in the shared folder. Those files are the
shared state this module reads: `/health/ready` counts the workers whose `model_ready` is 1 (ready only
when all serve, since any of them may take the next connection), `/model` lists each worker's version,
and `/metrics` leaves out the files of workers that died (uvicorn restarts a worker under a new pid and
nobody calls `mark_process_dead`) and the `model_info` series a worker set to 0 when it swapped: only the
versions serving now are reported. No other channel between workers is needed, and the files exist
anyway for the metrics.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

_LIVE_GAUGE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


@dataclass
class WorkerState:
    pid: int
    readiness: list[bool] = field(default_factory=list)
    """Each of this worker's `model_ready` series (one per served model): serving or not."""
    versions: dict[str, str] = field(default_factory=dict)
    """The version this worker reports in `model_info` at 1, by model."""

    @property
    def ready(self) -> bool:
        return bool(self.readiness) and all(self.readiness)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid(path: str) -> int | None:
    match = _LIVE_GAUGE.search(os.path.basename(path))
    return int(match.group(1)) if match else None


def live_files(folder: str) -> list[str]:
    """Every metrics file, less the live-gauge files of processes that no longer run."""
    files = glob.glob(os.path.join(folder, "*.db"))
    return [f for f in files if (pid := _pid(f)) is None or _alive(pid)]


def worker_states(folder: str) -> list[WorkerState]:
    """One entry per running worker that has written its gauges, by pid."""
    states: dict[int, WorkerState] = {}
    for path in live_files(folder):
        pid = _pid(path)
        if pid is None:
            continue
        for metric in MultiProcessCollector.merge([path], accumulate=False):  # type: ignore[no-untyped-call]
            for sample in metric.samples:
                state = states.setdefault(pid, WorkerState(pid))
                if sample.name == "model_ready":
                    state.readiness.append(sample.value == 1)
                elif sample.name == "model_info" and sample.value == 1:
                    state.versions[sample.labels["model"]] = sample.labels["version"]
    return sorted(states.values(), key=lambda s: s.pid)


class LiveCollector:
    """prometheus-client's MultiProcessCollector, reading only running workers' live gauges and leaving
    out `model_info` series at 0 (versions no worker serves any more)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def collect(self) -> Iterator[Metric]:
        for metric in MultiProcessCollector.merge(live_files(self.folder), accumulate=True):  # type: ignore[no-untyped-call]
            if metric.name == "model_info":
                metric.samples = [s for s in metric.samples if s.value != 0]
            yield metric
