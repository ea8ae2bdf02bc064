"""Shadow scoring: a second version (`SHADOW_ALIAS`, e.g. the Challenger) scores sampled requests too, off
the response path, and how its answers compare with production's is measured and captured.

The request path only decides (`job_for`) and hands the rows as the model saw them, with production's
answer, to a bounded queue (`offer`): it never waits, and when the queue is full the rows are dropped and
counted. One worker thread of its own takes everything waiting, scores it with the shadow version (rows of
several requests in one call), compares (service/shadow_compare.py), counts (service/shadow_metrics.py)
and then offers the request's capture rows, the shadow's answer beside production's (capture schema 3).
A shadow that raises is counted and logged once per state change; one that hangs holds only its own
thread, and its queue fills and drops. Nothing the client gets (answer, status, headers, timing) waits on
any of this. When the shadow alias names production's own version, there is nothing to compare.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.capture import CapturedBatch, CaptureWriter
from service.errors import ModelError
from service.loaded_model import LoadedModel
from service.metrics import Metrics
from service.model_manager import ModelManager
from service.pyfunc_input import PyfuncRequest
from service.schema import Columns
from service.shadow_compare import Comparison, Tolerance, compare
from service.shadow_counts import ShadowCounts

log = logging.getLogger(__name__)

CALL_MAX_ROWS = 4096
"""Most rows the worker hands the shadow version in one call (queued requests are merged up to this)."""
GATHER_S = 0.05
"""The worker lets requests gather this long after the first one queued before it scores them, so it wakes,
calls the model and takes the GIL once for many requests rather than once after each answer (measured:
one wake-up per request added 50 % to the p50 latency of a lone client on a one-core server)."""


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


class Shadow:
    """The shadow of one served model: its own follower, queue and worker thread."""

    def __init__(
        self,
        follower: ModelManager,
        metrics: Metrics,
        capture: CaptureWriter | None,
        sample_rate: float,
        max_rows: int,
        tolerance: Tolerance,
    ) -> None:
        self.follower = follower
        self.alias = follower.target.alias or ""
        self.metrics = metrics.shadow
        self.capture = capture
        self.sample_rate = sample_rate
        self.max_rows = max_rows
        self.tolerance = tolerance
        self._pending: deque[ShadowJob] = deque()
        self._pending_rows = 0
        self._in_flight: list[ShadowJob] = []
        self._cond = threading.Condition()
        self._closing = False
        self._dropping = False
        self._failing: dict[str, str] = {}
        """Shadow version -> the exception type it last raised (logged once per state change)."""
        self.counts = ShadowCounts(self.metrics)
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self.metrics.dropped.labels(follower.target.name)

    def start(self) -> None:
        self.follower.start()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Score what is queued for up to `timeout` seconds; what is left is captured unscored (counted)."""
        self.follower.stop()
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            left = [job for job in [*self._in_flight, *self._pending] if not job.finished]
            self._pending.clear()
            self._pending_rows = 0
        for job in left:
            self._dropped(job)
        for loaded in list(self.follower.cache.values()):
            loaded.discard()

    @property
    def version(self) -> LoadedModel | None:
        """The version shadowing now: None while the alias is unset, missing or not loaded yet."""
        follower = self.follower
        return None if follower.alias_missing else follower.current

    def job_for(self, production: LoadedModel) -> LoadedModel | None:
        """The shadow version, if this request of `production` is to be shadowed (sampled, another version)."""
        shadow = self.version
        if shadow is None or shadow.version == production.version:
            return None
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311
            return None
        return shadow

    def offer(self, job: ShadowJob) -> None:
        """Queue a sampled request for the shadow; never waits. Full: dropped, counted, captured unscored."""
        with self._cond:
            accepted = not self._closing and self._pending_rows + job.n_rows <= self.max_rows
            if accepted:
                self._pending.append(job)
                self._pending_rows += job.n_rows
                if len(self._pending) == 1 or self._pending_rows >= CALL_MAX_ROWS:
                    self._cond.notify()  # only what the worker waits for: not a wake-up per request
            changed = self._dropping == accepted
            self._dropping = not accepted
        if changed:
            if accepted:
                log.info("shadow %s: the queue accepts rows again", self.alias)
            else:
                log.warning(
                    "shadow %s: queue full (SHADOW_QUEUE_ROWS=%d); dropping shadow work", self.alias, self.max_rows
                )
        if not accepted:
            self._dropped(job)

    def _dropped(self, job: ShadowJob) -> None:
        self.counts.dropped(job.production.name, job.n_rows)
        self._finish(job, None, "dropped")

    def queued_rows(self) -> int:
        return self._pending_rows

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                gather_until = time.monotonic() + GATHER_S
                while not self._closing and self._pending_rows < CALL_MAX_ROWS:
                    left = gather_until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                jobs = [self._pending.popleft()]
                rows = jobs[0].n_rows
                while self._pending and rows + self._pending[0].n_rows <= CALL_MAX_ROWS:
                    jobs.append(self._pending.popleft())
                    rows += jobs[-1].n_rows
                self._pending_rows -= rows
                self._in_flight = jobs
            try:
                for group in _groups(jobs):
                    self._score(group)
            except Exception:  # the thread must survive anything; what it was scoring is captured unscored
                log.exception("shadow %s: unexpected error", self.alias)
                for job in jobs:
                    self._finish(job, None, "internal error")
            with self._cond:
                self._in_flight = []

    def _score(self, jobs: list[ShadowJob]) -> None:
        """One call for the group (or one per job if that fails, so each request gets its own error)."""
        if len(jobs) > 1:
            try:
                columns = jobs[0].columns or {}
                merged = {name: np.concatenate([job.columns[name] for job in jobs if job.columns]) for name in columns}
                output = self._call(jobs[0], merged, sum(job.n_rows for job in jobs))
            except Exception:  # noqa: S110 - retried one by one below
                pass
            else:
                offset = 0
                for job in jobs:
                    self._compared(job, output[offset : offset + job.n_rows])
                    offset += job.n_rows
                return
        for job in jobs:
            try:
                output = self._call(job, job.columns or {}, job.n_rows)
            except Exception as exc:
                self._failed(job, exc)
            else:
                self._compared(job, output)

    def _call(self, job: ShadowJob, columns: Columns, n_rows: int) -> Any:
        shadow = job.shadow
        started = time.perf_counter()
        output = shadow.predict_pyfunc(job.pyfunc) if job.pyfunc is not None else shadow.predict(columns, job.method)
        self.metrics.duration.labels(shadow.name, shadow.version).observe(time.perf_counter() - started)
        return output

    def _compared(self, job: ShadowJob, output: Any) -> None:
        production, shadow = job.production, job.shadow
        try:
            result = compare(
                job.output,
                output,
                job.n_rows,
                self.tolerance,
                production.classes,
                shadow.classes,
                probabilities=job.method == "predict_proba",
            )
        except Exception as exc:
            self._failed(job, exc)
            return
        self._state(shadow.version, None)
        self.counts.compared(production, shadow, result)
        self._finish(job, result, None)

    def _failed(self, job: ShadowJob, exc: Exception) -> None:
        shadow = job.shadow
        self.counts.failed(job.production, shadow, job.n_rows)
        kind = type(exc.__cause__ if isinstance(exc, ModelError) and exc.__cause__ else exc).__name__
        self._state(shadow.version, kind, exc)
        self._finish(job, None, kind)

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

    def _finish(self, job: ShadowJob, result: Comparison | None, error: str | None) -> None:
        """Offer the request's capture rows, with the shadow's answer or why there is none: once."""
        with self._cond:
            if job.finished:
                return
            job.finished = True
        batch = job.capture
        if batch is None or self.capture is None:
            return
        batch.shadow_version = job.shadow.version
        batch.shadow_error = error
        if result is not None:
            batch.shadow_predictions = result.labels
            batch.shadow_probabilities = result.probabilities
        self.capture.offer(batch)

    def stats(self) -> dict[str, Any]:
        """What `/model` shows of the shadow."""
        shadow = self.version
        follower = self.follower
        return {
            "alias": self.alias,
            "version": shadow.version if shadow is not None else None,
            "runtime": shadow.runtime if shadow is not None else None,
            "sample_rate": self.sample_rate,
            "alias_missing": follower.alias_missing,
            "last_error": follower.last_error,
            "queued_rows": self._pending_rows,
            "dropped_rows": self.counts.dropped_rows,
            "comparisons": self.counts.pairs(),
        }


def _groups(jobs: list[ShadowJob]) -> list[list[ShadowJob]]:
    """Jobs that can share a call: same shadow and production version, method and columns; pyfunc alone."""
    groups: dict[tuple[Any, ...], list[ShadowJob]] = {}
    for job in jobs:
        if job.pyfunc is not None or job.columns is None:
            key: tuple[Any, ...] = (id(job),)
        else:
            key = (id(job.shadow), id(job.production), job.method, tuple(job.columns))
        groups.setdefault(key, []).append(job)
    return list(groups.values())
