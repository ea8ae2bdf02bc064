"""The model thread, and what happens when a call in it never returns.

A thread cannot be stopped from outside. When a call outlives the request timeout and every request
waiting on it has been answered 504, the batcher abandons its thread: the call runs on, and later calls
get a fresh thread. At most `MAX_ABANDONED` abandoned calls may still be running; past that the service
answers 503 rather than start more threads, until one returns. State changes (abandoned, stuck, served
again, recovered) are logged once each, not per request.

The threads are daemon threads, unlike `ThreadPoolExecutor`'s workers, which the interpreter joins at
exit: a call that never returns must not keep the process from exiting on SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, ParamSpec, TypeVar

from service.metrics import Metrics

log = logging.getLogger(__name__)

MAX_ABANDONED = 4
"""Abandoned calls that may still be running before predictions answer 503 instead."""

P = ParamSpec("P")
T = TypeVar("T")
_names = itertools.count()


class ModelCallsStuck(Exception):
    """Every spare thread is held by a model call that has not returned: answered 503."""


class ModelThread(Executor):
    """One daemon thread running the calls submitted to it, in order."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"model-{next(_names)}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        self._calls.put((future, partial(fn, *args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop after the calls already submitted; `wait=False` leaves a running call to finish on its own."""
        self._calls.put(None)
        if wait:
            self._thread.join()

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)


class ModelThreads:
    """The thread model calls go to now, and the abandoned calls still running elsewhere."""

    def __init__(self, metrics: Metrics, timeout_s: float, limit: int = MAX_ABANDONED, model: str = "") -> None:
        self.metrics = metrics
        self.model = model
        """The served model these threads call (the label of its `model_ready` and `model_abandoned_threads`)."""
        self.timeout_s = timeout_s
        self.limit = limit
        self.current = ModelThread()
        self.stuck = False
        """True while the cap is reached and the current call has outlived its requests too: answer 503."""
        self.stuck_since: float | None = None
        """`time.monotonic()` when the calls became stuck, None while they are not: health reads it."""
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._state = "ok"

    def abandon(self, call: asyncio.Future[Any], model: str, version: str) -> bool:
        """Leave `call` running and give later calls a fresh thread; False (and stuck) at the cap."""
        if len(self._abandoned) >= self.limit:
            self.stuck = True
            self._log_state()
            return False
        self.current.shutdown(wait=False)
        self.current = ModelThread()
        self._abandoned.add(call)
        call.add_done_callback(self._returned)
        self.metrics.abandoned_calls.labels(model, version).inc()
        self.metrics.abandoned_threads.labels(self.model).set(len(self._abandoned))
        self.stuck = False
        self._log_state()
        return True

    def resume(self) -> None:
        """The current call returned: calls are served again."""
        if self.stuck:
            self.stuck = False
            self._log_state()

    def stuck_error(self) -> ModelCallsStuck:
        return ModelCallsStuck(
            f"model calls are stuck: {len(self._abandoned)} calls that outlived REQUEST_TIMEOUT_S "
            f"({self.timeout_s:g}s) have not returned; try again later"
        )

    def shutdown(self, wait: bool) -> None:
        self.current.shutdown(wait=wait)

    def _returned(self, call: asyncio.Future[Any]) -> None:
        self._abandoned.discard(call)
        self.metrics.abandoned_threads.labels(self.model).set(len(self._abandoned))
        self._log_state()

    def stuck_for_s(self) -> float | None:
        """How long the calls have been stuck without a break, or None while they are not."""
        return None if self.stuck_since is None else time.monotonic() - self.stuck_since

    def _log_state(self) -> None:
        state = "stuck" if self.stuck else "abandoning" if self._abandoned else "ok"
        if state == self._state:
            return
        if (state == "stuck") != (self._state == "stuck"):
            self.stuck_since = time.monotonic() if state == "stuck" else None
            self.metrics.ready.labels(self.model).set(0 if state == "stuck" else 1)  # stuck: this model not ready
        running = len(self._abandoned)
        if state == "stuck":
            log.error(
                "model calls are stuck: %d abandoned calls still running and the current one outlived "
                "REQUEST_TIMEOUT_S (%gs) too; answering 503 until one returns",
                running,
                self.timeout_s,
            )
        elif state == "abandoning" and self._state == "ok":
            log.warning(
                "a model call outlived REQUEST_TIMEOUT_S (%gs): left it running and moved on to a fresh thread",
                self.timeout_s,
            )
        elif state == "abandoning":
            log.warning("model calls are served again (%d abandoned calls still running)", running)
        else:
            log.info("model calls recovered: every abandoned call has returned")
        self._state = state
