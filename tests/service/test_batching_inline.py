"""Cheap calls skip the consumer under concurrency when the model's requests do not meet, and are batched
again when they do; calls the cost memory does not know to be cheap keep the queue.

In process: a real `Batcher` on a real event loop, a real fitted scikit-learn model. The test process is
not served by the project's `HttpProtocol`, so the server's request count is unknown here (`None`): the
batcher treats the traffic as concurrent, the case under test. A request that left nothing queued
(`busy()` false right after `submit`) skips the consumer task.

The tests of a cheap model give the batcher a steady CPU clock (`steady_cpu_clock`: every call measures 50 µs):
they check what the batcher does with a cost it knows, and `time.thread_time()` is not steady on a shared
virtual machine (a 0.3 ms call measured above the 2 ms limit now and then, under load: the version then stays
in its thread for a while, which is the safe side, but not what these tests are about). The expensive model
keeps the real clock: burning 5 ms of CPU a call can only measure more.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from service import batching
from service.batching import PROBE_EVERY, Batcher
from service.loaded_model import LoadedModel, ModelVersion
from service.metrics import Metrics

ROW = {"a": np.array([0.5]), "b": np.array([1.5])}


def _loaded(seconds_per_call: float = 0.0) -> LoadedModel:
    """A fitted logistic regression; `seconds_per_call` of CPU burnt per call makes it expensive."""
    estimator = LogisticRegression().fit([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]], [0, 0, 1, 1])

    def predict(data: Any, _params: dict[str, Any] | None) -> Any:
        until = time.thread_time() + seconds_per_call
        while time.thread_time() < until:
            pass
        return estimator.predict(data)

    return LoadedModel(
        meta=ModelVersion("cheap", "1", None, "models:/cheap/1"),
        flavor="sklearn",
        schema=None,
        signature=None,
        predict_frame=predict,
        proba_frame=None,
        classes=None,
        input_example=None,
        local_dir=Path("."),
        array_input=True,
    )


class _SteadyClock:
    """The `time` module as `service.batching` sees it, with a CPU clock that advances 50 µs a read."""

    def __init__(self) -> None:
        self._reads = itertools.count()

    def thread_time(self) -> float:
        return next(self._reads) * 50e-6

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def steady_cpu_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "time", _SteadyClock())


async def _learn_cost(batcher: Batcher, model: LoadedModel) -> None:
    """The first calls go through the consumer (and its model thread) until the cost is known."""
    for _ in range(3):
        await batcher.submit(model, ROW, 1, "predict")
        await _idle(batcher)


async def _idle(batcher: Batcher) -> None:
    """Other work on the loop until the consumer is back waiting (a request for another model, say)."""
    while batcher.busy():  # noqa: ASYNC110 - turns of the loop for the consumer, no event to wait on
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _learnt(model: LoadedModel, metrics: Metrics) -> AsyncIterator[Batcher]:
    """A started batcher that knows the model's cost; stopped on the way out."""
    batcher = Batcher(metrics, model="cheap")
    batcher.start()
    try:
        await _learn_cost(batcher, model)
        yield batcher
    finally:
        await batcher.stop()


async def _inline_counts(model: LoadedModel, waves: int) -> tuple[int, int, list[Any]]:
    """(scored without the consumer, queued, outputs) for `waves` single requests, one after another."""
    async with _learnt(model, Metrics()) as batcher:
        inline = queued = 0
        outputs = []
        for _ in range(waves):
            future = batcher.submit(model, ROW, 1, "predict")
            inline, queued = (inline, queued + 1) if batcher.busy() else (inline + 1, queued)
            outputs.append(await future)
            await _idle(batcher)
        return inline, queued, outputs


@pytest.mark.usefixtures("steady_cpu_clock")
def test_a_cheap_model_whose_requests_do_not_meet_skips_the_consumer() -> None:
    inline, queued, outputs = asyncio.run(_inline_counts(_loaded(), 4 * PROBE_EVERY))
    assert queued >= 1  # the probes: one in PROBE_EVERY goes through the consumer
    assert inline >= 4 * PROBE_EVERY - 4
    assert all(list(output) == [0] for output in outputs)


def test_an_expensive_model_keeps_its_thread() -> None:
    inline, queued, _ = asyncio.run(_inline_counts(_loaded(seconds_per_call=0.005), 6))
    assert (inline, queued) == (0, 6)


@pytest.mark.usefixtures("steady_cpu_clock")
def test_requests_that_meet_are_batched_again() -> None:
    """A probe queued, then more requests in the same turn of the loop: they meet in one call, and the
    requests after it keep the queue (so one model under load keeps its merged calls)."""

    async def run() -> tuple[bool, int]:
        model = _loaded()
        metrics = Metrics()
        async with _learnt(model, metrics) as batcher:
            futures = [batcher.submit(model, ROW, 1, "predict") for _ in range(PROBE_EVERY + 8)]
            await asyncio.gather(*futures)
            after = [batcher.submit(model, ROW, 1, "predict") for _ in range(4)]
            queued = batcher.busy()
            await asyncio.gather(*after)
            rows = metrics.registry.get_sample_value("model_batch_rows_sum", {"model": "cheap"}) or 0.0
            calls = metrics.registry.get_sample_value("model_batch_rows_count", {"model": "cheap"}) or 0.0
            return queued, int(rows - calls)

    queued, rows_beyond_one_per_call = asyncio.run(run())
    assert rows_beyond_one_per_call > 0  # some call scored several requests
    assert queued


@pytest.mark.usefixtures("steady_cpu_clock")
def test_requests_for_one_model_in_one_turn_share_one_call_on_the_loop() -> None:
    """While the model's requests do not meet in the consumer, the ones submitted in the same turn of the loop
    (requests read together, for the same model) are still scored together: one call, each its own output."""

    async def run() -> tuple[bool, float, float, list[Any]]:
        model = _loaded()
        metrics = Metrics()
        async with _learnt(model, metrics) as batcher:
            registry = metrics.registry
            calls_before = registry.get_sample_value("model_batch_rows_count", {"model": "cheap"}) or 0.0
            rows = [{"a": np.array([0.5]), "b": np.array([1.5])}, {"a": np.array([3.0]), "b": np.array([3.0])}]
            futures = [batcher.submit(model, row, 1, "predict") for row in (*rows, rows[0])]
            queued = batcher.busy()
            outputs = [list(output) for output in await asyncio.gather(*futures)]
            calls = (registry.get_sample_value("model_batch_rows_count", {"model": "cheap"}) or 0.0) - calls_before
            biggest = registry.get_sample_value("model_batch_rows_bucket", {"model": "cheap", "le": "2.0"})
            return queued, calls, biggest or 0.0, outputs

    queued, calls, calls_of_two_rows_or_fewer, outputs = asyncio.run(run())
    assert not queued  # scored on the loop, without the consumer
    assert calls == 1
    assert calls_of_two_rows_or_fewer == 3  # the three cost-learning calls; the shared one scored three rows
    assert outputs == [[0], [1], [0]]
