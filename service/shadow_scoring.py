"""What the shadow's worker thread does with a gathered batch of requests (service/shadow.py queues them).

Everything here is done once per batch, not once per request: the requests that can share a call are
scored in one shadow call, their production answers concatenated and compared with the shadow's in one
vectorised `compare`, and counted once per version pair (service/shadow_counts.py); only the capture rows
are offered per request, since each request is its own capture batch. The thread shares the GIL with the
event loop, so every microsecond per request spent here is one a lone client waits for: Python work per
row or per request is what this file avoids. Where one request spoils a batch (its call raises, or its
answer cannot be compared), the batch is done again one request at a time, so each request gets its own
verdict and error, as if it had been scored alone.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.batch_jobs import merged
from service.capture import CapturedBatch, CaptureWriter
from service.columns import Columns
from service.errors import ModelError
from service.loaded_model import LoadedModel
from service.pyfunc_input import PyfuncRequest
from service.shadow_compare import Comparison, Tolerance, compare
from service.shadow_counts import ShadowCounts
from service.shadow_metrics import ShadowMetrics

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ShadowJob:
    """One request's rows, production's answer to them, and the version that will shadow them."""

    shadow: LoadedModel
    production: LoadedModel
    method: str
    n_rows: int
    output: Any
    columns: Columns | None = None
    pyfunc: PyfuncRequest | None = None
    """A request in MLflow's input handling: shadowed alone with `predict_pyfunc`."""
    capture: CapturedBatch | None = None
    """The request's capture rows, offered once the shadow answered (or could not)."""
    finished: bool = field(default=False, repr=False)


class ShadowScorer:
    """Scores, compares, counts and captures gathered jobs; logs a version's failures once per change."""

    def __init__(self, alias: str, metrics: ShadowMetrics, capture: CaptureWriter | None, tolerance: Tolerance) -> None:
        self.alias = alias
        self.metrics = metrics
        self.capture = capture
        self.tolerance = tolerance
        self.counts = ShadowCounts(metrics)
        self._lock = threading.Lock()
        """Guards `ShadowJob.finished`: the worker and `stop` may both finish a job; its rows go out once."""
        self._failing: dict[str, str] = {}
        """Shadow version -> the exception type it last raised (logged once per state change)."""

    def score(self, jobs: list[ShadowJob]) -> None:
        """Every job scored and finished; one shadow call per group of jobs that can share it."""
        for group in groups(jobs):
            self._score(group)

    def dropped(self, jobs: list[ShadowJob]) -> None:
        """Jobs the queue could not take or the worker could not reach: counted, captured unscored."""
        for job in jobs:
            self.counts.dropped(job.production.name, job.n_rows)
        self.finish(jobs, "dropped")

    def _score(self, jobs: list[ShadowJob]) -> None:
        """One call for the group (or one per job if that fails, so each request gets its own error)."""
        if len(jobs) > 1:
            try:
                output = self._call(jobs[0], merged([job.columns for job in jobs if job.columns is not None]))
            except Exception:  # noqa: S110 - retried one by one below
                pass
            else:
                self._compared(jobs, output)
                return
        for job in jobs:
            try:
                output = self._call(job, job.columns or {})
            except Exception as exc:
                self._failed(job, exc)
            else:
                self._compared([job], output)

    def _call(self, job: ShadowJob, columns: Columns) -> Any:
        shadow = job.shadow
        started = time.perf_counter()
        output = shadow.predict_pyfunc(job.pyfunc) if job.pyfunc is not None else shadow.predict(columns, job.method)
        self.metrics.duration.labels(shadow.name, shadow.version).observe(time.perf_counter() - started)
        return output

    def _compared(self, jobs: list[ShadowJob], output: Any) -> None:
        """Compare the shadow's `output` for the jobs' rows (in order) with production's, all at once."""
        first = jobs[0]
        production, shadow = first.production, first.shadow
        n_rows = sum(job.n_rows for job in jobs)
        try:
            production_output = first.output if len(jobs) == 1 else np.concatenate([job.output for job in jobs])
            result = compare(
                production_output,
                output,
                n_rows,
                self.tolerance,
                production.classes,
                shadow.classes,
                probabilities=first.method == "predict_proba",
            )
        except Exception as exc:
            if len(jobs) == 1:
                self._failed(first, exc)
                return
            offset = 0
            for job in jobs:  # which request's answers cannot be compared: each gets its own verdict
                self._compared([job], output[offset : offset + job.n_rows])
                offset += job.n_rows
            return
        self._state(shadow.version, None)
        self.counts.compared(production, shadow, result)
        self.finish(jobs, None, result)

    def _failed(self, job: ShadowJob, exc: Exception) -> None:
        shadow = job.shadow
        self.counts.failed(job.production, shadow, job.n_rows)
        kind = type(exc.__cause__ if isinstance(exc, ModelError) and exc.__cause__ else exc).__name__
        self._state(shadow.version, kind, exc)
        self.finish([job], kind)

    def _state(self, version: str, error: str | None, exc: Exception | None = None) -> None:
        """Logged when the shadow version starts failing, fails differently, or answers again."""
        if self._failing.get(version) == error:
            return
        if error is None:
            self._failing.pop(version, None)
            log.info("shadow %s: version %s answers again", self.alias, version)
        else:
            self._failing[version] = error
            log.error("shadow %s: version %s raised %s: %s (production unaffected)", self.alias, version, error, exc)

    def finish(self, jobs: list[ShadowJob], error: str | None, result: Comparison | None = None) -> None:
        """Offer each job's capture rows, with its part of the shadow's answer (`result`: the jobs' rows in
        order) or why there is none (`error`): once per job, whoever finishes it first."""
        with self._lock:
            fresh = [not job.finished for job in jobs]
            for job in jobs:
                job.finished = True
        capture = self.capture
        if capture is None:
            return
        offset = 0
        for job, first_time in zip(jobs, fresh, strict=True):
            start, offset = offset, offset + job.n_rows
            batch = job.capture
            if batch is None or not first_time:
                continue
            batch.shadow_version = job.shadow.version
            batch.shadow_error = error
            if result is not None:
                whole = len(jobs) == 1
                batch.shadow_predictions = result.labels if whole else result.labels[start:offset]
                probabilities = result.probabilities
                batch.shadow_probabilities = (
                    probabilities if whole or probabilities is None else probabilities[start:offset]
                )
            capture.offer(batch)


def groups(jobs: list[ShadowJob]) -> list[list[ShadowJob]]:
    """Jobs that can share a call: same shadow and production version, method and columns; pyfunc alone."""
    grouped: dict[tuple[Any, ...], list[ShadowJob]] = {}
    for job in jobs:
        if job.pyfunc is not None or job.columns is None:
            key: tuple[Any, ...] = (id(job),)
        else:
            key = (id(job.shadow), id(job.production), job.method, tuple(job.columns))
        grouped.setdefault(key, []).append(job)
    return list(grouped.values())
