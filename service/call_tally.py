"""Model-call metrics counted in plain Python, folded into their Prometheus series before each read.

Each model call updates three series: the inference-duration and batch-rows histograms and the predictions
counter. Through prometheus-client that is three locks taken and a walk over the histogram's buckets. With
traffic spread over 100 models every request is its own call, and each model's series are out of the CPU's
caches by its next request: 3.4-4.0 µs a call with caches disturbed between calls (11 µs of a request by a
sampling profiler in the served process, bench/many-profile.md). A `CallTally` counts the same things with a
few additions under one lock (1.3 µs the same way), and `CallTallies.fold` adds them to the series:

- before every collection of the metrics' registry (`/metrics`, or `get_sample_value` in a test): a
  collector registered ahead of the series folds first;
- in multiprocess mode (several workers), before this worker's own scrape and every `FOLD_EVERY_S`
  (`Metrics.fold_calls_every`), so another worker's scrape sees this one's calls at most that late; and at
  a graceful shutdown, so nothing counted is lost (a worker killed outright loses its last second of counts).

Bucket rules are Prometheus's: an observation goes to the first bucket whose bound is ≥ it (`le`).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.metrics_core import Metric

FOLD_EVERY_S = 1.0
"""With several workers, how often each folds its counts into the shared files."""


class CallTally:
    """One version's calls since the last fold. `add` may run on the event loop or in a model thread."""

    __slots__ = (
        "_duration",
        "_lock",
        "_predictions",
        "_rows",
        "_seconds",
        "_size_bounds",
        "_sizes",
        "_time_bounds",
        "_times",
        "_total_rows",
    )

    def __init__(self, duration: Histogram, rows: Histogram, predictions: Counter) -> None:
        self._duration, self._rows, self._predictions = duration, rows, predictions
        self._lock = threading.Lock()
        # prometheus-client's own bounds (+Inf last), buckets and sum: it has no "observe many" (the version is
        # locked in uv.lock; tests/service/test_call_tally.py compares the result with `observe`'s).
        self._time_bounds, self._size_bounds = duration._upper_bounds, rows._upper_bounds
        self._times = [0] * len(self._time_bounds)
        self._sizes = [0] * len(self._size_bounds)
        self._seconds = 0.0
        self._total_rows = 0

    def add(self, seconds: float, n_rows: int) -> None:
        """One model call: how long it took and how many rows it scored."""
        with self._lock:
            self._times[bisect_left(self._time_bounds, seconds)] += 1
            self._sizes[bisect_left(self._size_bounds, n_rows)] += 1
            self._seconds += seconds
            self._total_rows += n_rows

    def fold(self) -> None:
        """Add what was counted to the Prometheus series, and start again from zero."""
        with self._lock:
            if not any(self._sizes):  # every call counts in one of them
                return
            times, sizes, seconds, rows = self._times, self._sizes, self._seconds, self._total_rows
            self._times, self._sizes = [0] * len(times), [0] * len(sizes)
            self._seconds, self._total_rows = 0.0, 0
        _add_to(self._duration, times, seconds)
        _add_to(self._rows, sizes, rows)
        self._predictions.inc(rows)


def _add_to(histogram: Histogram, counts: list[int], total: float) -> None:
    """What `observe` would have done for each observation: the sum, and one bucket each."""
    histogram._sum.inc(total)
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)


class CallTallies:
    """Every version's tally, by (model, version)."""

    def __init__(self, duration: Histogram, rows: Histogram, predictions: Counter) -> None:
        self._duration, self._rows, self._predictions = duration, rows, predictions
        self._tallies: dict[tuple[str, str], CallTally] = {}

    def of(self, model: str, version: str) -> CallTally:
        found = self._tallies.get((model, version))
        if found is None:
            duration, rows = self._duration.labels(model, version), self._rows.labels(model)
            made = CallTally(duration, rows, self._predictions.labels(model, version))
            found = self._tallies.setdefault((model, version), made)  # a model thread may race the loop here
        return found

    def fold(self) -> None:
        for tally in list(self._tallies.values()):
            tally.fold()


class FoldFirst:
    """A collector registered ahead of the series: collecting the registry folds every tally first."""

    def __init__(self, fold: Callable[[], None]) -> None:
        self._fold = fold

    def collect(self) -> Iterator[Metric]:
        self._fold()
        return iter(())

    def describe(self) -> list[Any]:
        return []  # no metric of its own: the registry must not call `collect` to learn its names
