"""Adaptive batching: concurrent requests for the same version share one model call.

Requests queue up while the model is busy; the next call takes everything waiting (up to
`max_batch_size` requests), and waits up to `max_batch_wait_ms` for more only while traffic is
concurrent (the previous call had batch-mates): a lone client never waits. Each request keeps its own
result and its own error: when a batched call fails, its requests are retried one by one, so one bad
request never fails its batch-mates. Requests in MLflow's input handling (`pyfunc` jobs: any data,
per-request params) are called one by one, in the same model thread.

Calls run in one model thread, so a slow model never stalls the event loop. A call that outlives
`abandon_after_s` once all its requests have timed out is abandoned (`service/model_thread.py`), so one
call that never returns does not take the service down with it. A model whose calls take well under a
millisecond or two is called on the event loop itself: handing it to the thread and back costs two thread
wake-ups, more than the call, and under CPU contention each wake-up can wait for a time slice. When such a
call arrives alone (the consumer idle, nothing queued, no other request received by the server: see
`service/server.py`) it is made in the request's own task, without the hop through the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.errors import ModelError
from service.loaded_model import LoadedModel
from service.metrics import Metrics
from service.model_thread import ModelThreads
from service.pyfunc_input import PyfuncRequest
from service.schema import Columns, MatrixColumns, matrix_of
from service.server import requests_in_flight

log = logging.getLogger(__name__)

INLINE_BELOW_S = 0.002
"""Calls expected to take less CPU time than this (running average per version) run on the event loop."""
INLINE_MAX_ROWS = 256
_AVERAGE_WEIGHT = 0.2
COST_SAMPLE_EVERY = 8
"""Once a version's cost is known, the CPU time of one call in this many updates it: `time.thread_time()` is
a system call (10 µs here, twice a call), the largest single cost on a one-row request's path (py-spy)."""
_RECHECK_S = 0.1
"""How often a call that outlived its timeout is looked at again (stuck at the cap, or about to return)."""


Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]
"""A request's future with its result or its error."""


@dataclass
class Job:
    model: LoadedModel
    columns: Columns
    n_rows: int
    method: str
    params: dict[str, Any] | None
    future: asyncio.Future[Any] = field(repr=False)
    pyfunc: PyfuncRequest | None = None
    """A request in MLflow's input handling: scored alone with `LoadedModel.predict_pyfunc`."""


class Batcher:
    """One consumer task feeding a single model thread; `submit` is what request handlers await."""

    def __init__(
        self,
        metrics: Metrics,
        max_batch_size: int = 64,
        max_batch_wait_ms: float = 2.0,
        abandon_after_s: float = 60.0,
        model: str = "",
    ) -> None:
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_batch_wait_ms / 1000
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._threads = ModelThreads(metrics, abandon_after_s, model=model)
        self._task: asyncio.Task[None] | None = None
        self._last_batch = 1
        self._call_seconds: dict[int, float] = {}
        """Running average of the CPU time of a call, by `id()` of the loaded version."""
        self._calls = 0
        self._waiting = False
        """The consumer is idle, waiting for a request: a lone cheap call may run in `submit` itself."""
        self._series: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        """A version's inference-duration, batch-rows and predictions series: `labels()` costs ~10 µs a call."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._consume(), name="batcher")

    @property
    def abandon_after_s(self) -> float:
        """A thread call running this long, with every request waiting on it timed out, is abandoned."""
        return self._threads.timeout_s

    @abandon_after_s.setter
    def abandon_after_s(self, seconds: float) -> None:
        self._threads.timeout_s = seconds

    def stuck_for_s(self) -> float | None:
        """How long model calls have been stuck (predictions answer 503), or None while they are not."""
        return self._threads.stuck_for_s()

    def busy(self) -> bool:
        """Requests are queued or being scored (`task_done` follows each): the memory budget leaves it loaded."""
        return bool(self._queue._unfinished_tasks)  # type: ignore[attr-defined]  # asyncio.Queue's own count

    def stuck_reason(self) -> str:
        return str(self._threads.stuck_error())

    async def stop(self) -> None:
        """Finish what is queued, then stop; a call stuck past the cap is not waited for."""
        finished = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), self.abandon_after_s + 1)
            finished = True
        if self._task is not None:
            self._task.cancel()
        self._threads.shutdown(wait=finished)

    def submit(
        self, model: LoadedModel, columns: Columns, n_rows: int, method: str, params: dict[str, Any] | None = None
    ) -> asyncio.Future[Any]:
        """Queue the rows; the future settles with this request's own output or error.

        A future that is already done when its batch comes up (timed out, or its client went away) is
        not scored. While model calls are stuck (see `service/model_thread.py`) it raises ModelCallsStuck.
        """
        if self._threads.stuck:
            raise self._threads.stuck_error()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = Job(model, columns, n_rows, method, params, future)
        if self._waiting and requests_in_flight() == 1 and self._queue.empty() and self._inline([job]):
            self._run_group([job], _settle)  # a lone request for a cheap model: no hop through the consumer task
        else:
            self._queue.put_nowait(job)
        return future

    def submit_pyfunc(self, model: LoadedModel, request: PyfuncRequest, n_rows: int) -> asyncio.Future[Any]:
        """Queue a request parsed by MLflow's input handling; it is scored alone, in the model thread."""
        if self._threads.stuck:
            raise self._threads.stuck_error()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Job(model, {}, n_rows, "predict", request.params, future, request))
        return future

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._waiting = True
            try:
                jobs = [await self._queue.get()]
            finally:
                self._waiting = False
            wait_s = self.max_wait_s if self._last_batch > 1 else 0.0
            deadline = loop.time() + wait_s
            while len(jobs) < self.max_batch_size:
                if not self._queue.empty():
                    jobs.append(self._queue.get_nowait())
                elif wait_s > 0 and (left := deadline - loop.time()) > 0:
                    try:
                        jobs.append(await asyncio.wait_for(self._queue.get(), left))
                    except TimeoutError:
                        break
                else:
                    break
            self._last_batch = len(jobs)
            try:
                for group in _groups(jobs):
                    if self._inline(group):
                        self._run_group(group, _settle)
                        await asyncio.sleep(0)  # let the answered requests respond, and new ones queue
                    else:
                        await self._in_thread(group)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _in_thread(self, jobs: list[Job]) -> None:
        """Run the group in the model thread; stop waiting for it if it is abandoned (see `_watch`)."""
        loop = asyncio.get_running_loop()
        call = _ThreadCall(loop, jobs)
        running = loop.run_in_executor(self._threads.current, self._run_group, jobs, call.answer)
        running.add_done_callback(call.returned)
        call.timer = loop.call_later(self.abandon_after_s, self._watch, call, running)
        try:
            await call.waiter
        finally:
            if call.timer is not None:
                call.timer.cancel()  # the latest one: `_watch` re-arms it
        if running.done():
            self._threads.resume()

    def _watch(self, call: _ThreadCall, running: asyncio.Future[Any]) -> None:
        """At `abandon_after_s` into the call: abandon it if every request it serves has been answered."""
        if call.waiter.done():
            return
        model = call.jobs[0].model
        if not call.answered and all(job.future.done() for job in call.jobs):
            if self._threads.abandon(running, model.name, model.version):
                call.waiter.set_result(None)
                return
            self._refuse_queued()
        call.timer = call.loop.call_later(_RECHECK_S, self._watch, call, running)

    def _refuse_queued(self) -> None:
        """Stuck: what is queued would only time out behind the stuck call; answer it now."""
        error = self._threads.stuck_error()
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(error)
            self._queue.task_done()

    def _inline(self, jobs: list[Job]) -> bool:
        """Only native scikit-learn and ONNX Runtime calls, which are CPU-bound: a pyfunc model may wait (I/O,
        sleep) for long at little CPU cost, and on the event loop that wait would stall every other request."""
        if jobs[0].model.flavor not in ("sklearn", "onnx") or jobs[0].params or jobs[0].pyfunc is not None:
            return False
        average = self._call_seconds.get(id(jobs[0].model))
        return average is not None and average < INLINE_BELOW_S and sum(j.n_rows for j in jobs) <= INLINE_MAX_ROWS

    def _run_group(self, jobs: list[Job], settle: Callable[[list[Outcome]], object]) -> None:
        """One call for the group, or one call per job if the group call fails; `settle` hands out results."""
        live = [job for job in jobs if not job.future.done()]
        if not live:
            return
        outcomes: list[Outcome] = []
        if len(live) > 1:
            try:
                merged = _merged([job.columns for job in live])
                output = self._call(live[0], merged, sum(job.n_rows for job in live))
            except Exception:  # noqa: S110 - retried one by one below, so each request gets its own error
                pass
            else:
                offset = 0
                for job in live:
                    outcomes.append((job.future, output[offset : offset + job.n_rows], None))
                    offset += job.n_rows
                settle(outcomes)
                return
        for job in live:
            try:
                outcomes.append((job.future, self._call(job, job.columns, job.n_rows), None))
            except Exception as exc:
                if isinstance(exc, ModelError) and (job.pyfunc is None or job.pyfunc.counted):  # once a request
                    self.metrics.model_errors.labels(job.model.name, job.model.version).inc()
                outcomes.append((job.future, None, exc))
        settle(outcomes)

    def _call(self, job: Job, columns: Columns, n_rows: int) -> Any:
        model = job.model
        self._calls += 1
        sample = self._calls % COST_SAMPLE_EVERY == 0 or id(model) not in self._call_seconds
        cpu_started = time.thread_time() if sample else 0.0
        started = time.perf_counter()
        if job.pyfunc is not None:
            output = model.predict_pyfunc(job.pyfunc)
        else:
            output = model.predict(columns, job.method, job.params)
        elapsed = time.perf_counter() - started
        if sample:
            self._remember_cost(id(model), time.thread_time() - cpu_started)
        duration, rows, predictions = self._series_of(model)
        duration.observe(elapsed)
        rows.observe(n_rows)
        predictions.inc(n_rows)
        return output

    def _series_of(self, model: LoadedModel) -> tuple[Any, Any, Any]:
        key = (model.name, model.version)
        series = self._series.get(key)
        if series is None:
            if len(self._series) > 16:
                self._series.clear()  # versions come and go: forget the old ones now and then
            metrics = self.metrics
            series = self._series[key] = (
                metrics.inference_duration.labels(model.name, model.version),
                metrics.batch_rows.labels(model.name),
                metrics.predictions.labels(model.name, model.version),
            )
        return series

    def _remember_cost(self, key: int, seconds: float) -> None:
        """CPU time of the calling thread, not wall time: a call preempted by other processes is not slow."""
        if len(self._call_seconds) > 16 and key not in self._call_seconds:
            self._call_seconds.clear()  # versions come and go: forget the old ones now and then
        average = self._call_seconds.get(key)
        self._call_seconds[key] = seconds if average is None else average + _AVERAGE_WEIGHT * (seconds - average)


class _ThreadCall:
    """One group's call in the model thread, as the event loop follows it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, jobs: list[Job]) -> None:
        self.loop = loop
        self.jobs = jobs
        self.answered = False
        """Set by the model thread as it hands out the results: the call is returning, not stuck."""
        self.waiter: asyncio.Future[None] = loop.create_future()
        self.timer: asyncio.TimerHandle | None = None

    def answer(self, outcomes: list[Outcome]) -> None:
        """In the model thread."""
        self.answered = True
        self.loop.call_soon_threadsafe(_settle, outcomes)

    def returned(self, running: asyncio.Future[Any]) -> None:
        if not running.cancelled() and (error := running.exception()) is not None:
            log.error("model thread call failed: %s: %s", type(error).__name__, error, exc_info=error)
        if not self.waiter.done():
            self.waiter.set_result(None)


def _groups(jobs: list[Job]) -> list[list[Job]]:
    """Jobs that can share a call: same version object, same prediction method, no request params.

    A job in MLflow's input handling shares with no one (its data may be anything).
    """
    groups: dict[tuple[int, str, int], list[Job]] = {}
    for job in jobs:
        if job.pyfunc is not None:
            key = (id(job), "pyfunc", 0)
        else:
            key = (id(job.model), job.method, id(job.params) if job.params else 0)
        groups.setdefault(key, []).append(job)
    return list(groups.values())


def _merged(requests: list[Columns]) -> Columns:
    """The requests' columns as one table: their matrices side by side when each has one."""
    blocks = [block for columns in requests if (block := matrix_of(columns)) is not None]
    if len(blocks) == len(requests):
        return MatrixColumns.of(list(requests[0]), np.concatenate(blocks, axis=1))
    return {name: np.concatenate([columns[name] for columns in requests]) for name in requests[0]}


def _settle(outcomes: list[Outcome]) -> None:
    """On the event loop: hand each request its result or error (one wake-up for the whole group)."""
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
