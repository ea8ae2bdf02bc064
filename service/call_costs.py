"""The cost memory: what one call of each loaded version costs, and whether it is cheap enough to make on
the event loop.

Handing a call to the model thread and back costs two thread wake-ups, and under CPU contention each
can wait for a time slice: a call that takes well under a millisecond or two is cheaper made on the loop.
Only native scikit-learn and ONNX Runtime calls qualify, which are CPU-bound: a pyfunc model may wait (I/O,
sleep) for long at little CPU cost, and on the event loop that wait would stall every other request. A
version is called in its thread until its cost is known; the cost is CPU time (`time.thread_time()`), not
wall time, so a call preempted by other processes does not count as slow.
"""

from __future__ import annotations

from service.batch_jobs import Job
from service.loaded_model import LoadedModel

INLINE_BELOW_S = 0.002
"""Calls expected to take less CPU time than this (running average per version) run on the event loop."""
INLINE_MAX_ROWS = 256
COST_SAMPLE_EVERY = 8
"""Once a version's cost is known, the CPU time of one call in this many updates it: `time.thread_time()` is
a system call (10 µs here, twice a call), the largest single cost on a one-row request's path (py-spy)."""
_AVERAGE_WEIGHT = 0.2
_VERSIONS_KEPT = 16


class CallCosts:
    """Running average of the CPU time of a call, by loaded version (`id()` of the `LoadedModel`)."""

    def __init__(self) -> None:
        self._seconds: dict[int, float] = {}
        self._calls = 0

    def sample(self, model: LoadedModel) -> bool:
        """Whether to time this call: every call of a version whose cost is unknown, then one in a few."""
        self._calls += 1
        return self._calls % COST_SAMPLE_EVERY == 0 or id(model) not in self._seconds

    def remember(self, model: LoadedModel, seconds: float) -> None:
        key = id(model)
        if len(self._seconds) > _VERSIONS_KEPT and key not in self._seconds:
            self._seconds.clear()  # versions come and go: forget the old ones now and then
        average = self._seconds.get(key)
        self._seconds[key] = seconds if average is None else average + _AVERAGE_WEIGHT * (seconds - average)

    def cheap(self, first: Job, n_rows: int) -> bool:
        """One call of `n_rows` rows, for `first` and the requests grouped with it, is known to be cheap enough
        for the event loop."""
        if n_rows > INLINE_MAX_ROWS or first.params or first.pyfunc is not None:
            return False
        if first.model.flavor not in ("sklearn", "onnx"):
            return False
        average = self._seconds.get(id(first.model))
        return average is not None and average < INLINE_BELOW_S
