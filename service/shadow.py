"""Shadow scoring: a second version (`SHADOW_ALIAS`, e.g. the Challenger) scores sampled requests too, off
the response path, and how its answers compare with production's is measured and captured.

The request path only decides (`job_for`) and hands the rows as the model saw them, with production's
answer, to a bounded queue (`offer`): it never waits, and when the queue is full the rows are dropped and
counted. One worker thread of its own takes everything waiting and scores it as one batch
(service/shadow_scoring.py: rows of several requests in one call, compared and counted at once), then
offers each request's capture rows, the shadow's answer beside production's (capture schema 3).
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
from typing import Any

from service.capture import CaptureWriter
from service.loaded_model import LoadedModel
from service.metrics import Metrics
from service.model_manager import ModelManager
from service.shadow_compare import Tolerance
from service.shadow_scoring import ShadowJob, ShadowScorer

__all__ = ["Shadow", "ShadowJob"]

log = logging.getLogger(__name__)

CALL_MAX_ROWS = 4096
"""Most rows the worker hands the shadow version in one call (queued requests are merged up to this)."""
GATHER_S = 0.1
"""The worker lets requests gather this long before it scores them, so it wakes, calls the model and takes
the GIL once for many requests rather than once after each answer (measured: one wake-up per request added
50 % to the p50 latency of a lone client on a one-core server). Each wake-up costs the event loop thread
context switches and a GIL hand-off whatever the batch, so a longer window is fewer of them per request;
at 0.1 s a one-row client at 3500 req/s queues 350 rows, far below SHADOW_QUEUE_ROWS's default."""


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
        self.sample_rate = sample_rate
        self.max_rows = max_rows
        self._pending: deque[ShadowJob] = deque()
        self._pending_rows = 0
        self._in_flight: list[ShadowJob] = []
        self._cond = threading.Condition()
        self._closing = False
        self._idle = False
        """The worker found nothing after its window and waits for the next offer (else it wakes by itself)."""
        self._dropping = False
        self.scorer = ShadowScorer(self.alias, self.metrics, capture, tolerance)
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
        self.scorer.dropped(left)
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
                if (self._idle and len(self._pending) == 1) or self._pending_rows >= CALL_MAX_ROWS:
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
            self.scorer.dropped([job])

    def queued_rows(self) -> int:
        return self._pending_rows

    def _run(self) -> None:
        """One wake-up per gathering window while traffic flows: the window is timed from the end of the
        previous batch, and only a worker that found nothing (idle) is woken by the next offer."""
        while True:
            with self._cond:
                self._gather()
                if not self._pending:
                    if self._closing:
                        return
                    self._idle = True
                    while not self._pending and not self._closing:
                        self._cond.wait()
                    self._idle = False
                    continue  # a window from the first request after a quiet spell
                jobs = [self._pending.popleft()]
                rows = jobs[0].n_rows
                while self._pending and rows + self._pending[0].n_rows <= CALL_MAX_ROWS:
                    jobs.append(self._pending.popleft())
                    rows += jobs[-1].n_rows
                self._pending_rows -= rows
                self._in_flight = jobs
            try:
                self.scorer.score(jobs)
            except Exception:  # the thread must survive anything; what it was scoring is captured unscored
                log.exception("shadow %s: unexpected error", self.alias)
                self.scorer.finish(jobs, "internal error")
            with self._cond:
                self._in_flight = []

    def _gather(self) -> None:
        """Wait out the gathering window (holding `_cond`), unless a full call's rows or `stop` come first."""
        gather_until = time.monotonic() + GATHER_S
        while not self._closing and self._pending_rows < CALL_MAX_ROWS:
            left = gather_until - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

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
            "dropped_rows": self.scorer.counts.dropped_rows,
            "comparisons": self.scorer.counts.pairs(),
        }
