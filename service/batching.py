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

Under concurrent traffic the same holds for a model whose requests do not meet: spread over many models,
each request is usually alone for its model, and the hop through its consumer task (two task switches, a
queue and a future) is most of what the batcher adds. So while this model's last batch had no batch-mates,
a cheap call is made in the next turn of the loop without the consumer (not in the request's task: the
requests already read keep their turn), the requests for this model submitted in the same turn together in
one call (wrk's 64 connections over 100 models: a few meet in each turn); one request in `PROBE_EVERY` still
goes through the queue, so the consumer sees again whether requests now meet (then they are batched
again: one model under load keeps its merged calls). Only calls the cost memory knows to be cheap are made on the loop
(`service/call_costs.py`): an expensive or hanging model always scores in its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from service.batch_jobs import Job, Outcome, groups, merged, settle
from service.call_costs import COST_SAMPLE_EVERY, INLINE_BELOW_S, INLINE_MAX_ROWS, CallCosts
from service.columns import Columns
from service.errors import ModelError
from service.loaded_model import LoadedModel
from service.metrics import Metrics
from service.model_thread import ModelThreads
from service.pyfunc_input import PyfuncRequest
from service.server import requests_in_flight
from service.shared_calls import SharedTurn
from service.thread_calls import RECHECK_S, ThreadCall

log = logging.getLogger(__name__)

PROBE_EVERY = 16
"""Under concurrency, one request in this many for a model whose requests were not meeting is queued, so the
consumer sees whether they meet now."""

__all__ = ["COST_SAMPLE_EVERY", "INLINE_BELOW_S", "INLINE_MAX_ROWS", "Batcher", "Job", "Outcome"]


class Batcher:
    """One consumer task feeding a single model thread; `submit` is what request handlers await."""

    def __init__(
        self,
        metrics: Metrics,
        max_batch_size: int = 64,
        max_batch_wait_ms: float = 2.0,
        abandon_after_s: float = 60.0,
        model: str = "",
        shared: SharedTurn | None = None,
    ) -> None:
        self.metrics = metrics
        self.shared = shared
        """The app's turn across models: lone rows of binary linear classifiers share one call (`_gather`)."""
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_batch_wait_ms / 1000
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._threads = ModelThreads(metrics, abandon_after_s, model=model)
        self._task: asyncio.Task[None] | None = None
        self._last_batch = 1
        self._inline_streak = 0
        """Cheap calls made without the consumer under concurrency: one in `PROBE_EVERY` is queued instead."""
        self._costs = CallCosts()
        self._turn: list[Job] | None = None
        """Cheap calls gathered in this turn of the loop, scored together in the next one (`_gather`)."""
        self._waiting = False
        """The consumer is idle, waiting for a request: a lone cheap call may run in `submit` itself."""

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
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        job = Job(model, columns, n_rows, method, params, future)
        if not self._waiting or not self._queue.empty() or not self._costs.cheap(job, job.n_rows):
            self._queue.put_nowait(job)
        elif requests_in_flight() == 1:
            self._run_group([job], settle)  # a lone request for a cheap model: no hop through the consumer task
        elif self._last_batch == 1 and self._not_probe():
            # Requests for this model do not meet: scored in the next turn of the loop (as the consumer would,
            # one task switch and a queue fewer), so the other requests of this turn keep their place.
            self._gather(loop, job)
        else:
            self._queue.put_nowait(job)
        return future

    def _gather(self, loop: asyncio.AbstractEventLoop, job: Job) -> None:
        """Requests for this model submitted in one turn of the loop are scored together in the next one (a lone
        row of a binary linear classifier together with those of other models: service/shared_calls.py)."""
        if self.shared is not None and self.shared.offer(self, job, loop):
            return
        if self._turn is None:
            self._turn = [job]
            loop.call_soon(self._run_turn)
        else:
            self._turn.append(job)

    def _run_turn(self) -> None:
        jobs, self._turn = self._turn or [], None
        if len(jobs) == 1:
            self._run_group(jobs, settle)
            return
        for group in groups(jobs):
            if self._costs.cheap(group[0], sum(job.n_rows for job in group)):
                self._run_group(group, settle)
            else:  # too many rows for one call on the loop: each was cheap alone
                for job in group:
                    self._run_group([job], settle)

    def _not_probe(self) -> bool:
        """One call in `PROBE_EVERY` goes through the queue, so the consumer sees whether requests meet now."""
        self._inline_streak += 1
        return self._inline_streak % PROBE_EVERY != 0

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
                for group in groups(jobs):
                    if self._costs.cheap(group[0], sum(job.n_rows for job in group)):
                        self._run_group(group, settle)
                        await asyncio.sleep(0)  # let the answered requests respond, and new ones queue
                    else:
                        await self._in_thread(group)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _in_thread(self, jobs: list[Job]) -> None:
        """Run the group in the model thread; stop waiting for it if it is abandoned (see `_watch`)."""
        loop = asyncio.get_running_loop()
        call = ThreadCall(loop, jobs)
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

    def _watch(self, call: ThreadCall, running: asyncio.Future[Any]) -> None:
        """At `abandon_after_s` into the call: abandon it if every request it serves has been answered."""
        if call.waiter.done():
            return
        model = call.jobs[0].model
        if not call.answered and all(job.future.done() for job in call.jobs):
            if self._threads.abandon(running, model.name, model.version):
                call.waiter.set_result(None)
                return
            self._refuse_queued()
        call.timer = call.loop.call_later(RECHECK_S, self._watch, call, running)

    def _refuse_queued(self) -> None:
        """Stuck: what is queued would only time out behind the stuck call; answer it now."""
        error = self._threads.stuck_error()
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(error)
            self._queue.task_done()

    def _run_group(self, jobs: list[Job], settle: Callable[[list[Outcome]], object]) -> None:
        """One call for the group, or one call per job if the group call fails; `settle` hands out results."""
        live = [job for job in jobs if not job.future.done()]
        if not live:
            return
        outcomes: list[Outcome] = []
        if len(live) > 1:
            try:
                together = merged([job.columns for job in live])
                output = self._call(live[0], together, sum(job.n_rows for job in live))
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
        sample = self._costs.sample(model)
        cpu_started = time.thread_time() if sample else 0.0
        started = time.perf_counter()
        if job.pyfunc is not None:
            output = model.predict_pyfunc(job.pyfunc)
        else:
            output = model.predict(columns, job.method, job.params)
        elapsed = time.perf_counter() - started
        if sample:
            self._costs.remember(model, time.thread_time() - cpu_started)
        self.metrics.calls.of(model.name, model.version).add(elapsed, n_rows)
        return output
