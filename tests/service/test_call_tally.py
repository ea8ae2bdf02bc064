"""Model-call metrics counted per call and folded in before a read (service/call_tally.py) read exactly as
prometheus-client's own `observe` and `inc` would have made them."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from service.call_tally import CallTallies, FoldFirst
from service.metrics import LATENCY_BUCKETS, ROW_BUCKETS, Metrics

# Every bound itself (an observation equal to a bound belongs to it), either side of one, zero, past the last.
SECONDS = [0.0, *LATENCY_BUCKETS, *(b * 0.999 for b in LATENCY_BUCKETS), *(b * 1.001 for b in LATENCY_BUCKETS), 1e6]
ROWS = [1, 2, 3, 4, 5, 100, 4096, 4097, 16384, 16385, 10**7]


def _series(registry: CollectorRegistry) -> tuple[Histogram, Histogram, Counter]:
    return (
        Histogram("d_seconds", "d", ["model", "version"], buckets=LATENCY_BUCKETS, registry=registry),
        Histogram("r_rows", "r", ["model"], buckets=ROW_BUCKETS, registry=registry),
        Counter("p", "p", ["model", "version"], registry=registry),
    )


def _exposed(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def test_folded_counts_read_as_observe_would_have_made_them() -> None:
    direct = CollectorRegistry()
    duration, rows, predictions = _series(direct)
    tallied = CollectorRegistry()
    tallies = CallTallies(*_series(tallied))
    calls = [(s, r) for s in SECONDS for r in ROWS[: 1 + int(s * 7) % len(ROWS)]]
    for seconds, n_rows in calls:
        duration.labels("m", "1").observe(seconds)
        rows.labels("m").observe(n_rows)
        predictions.labels("m", "1").inc(n_rows)
        tallies.of("m", "1").add(seconds, n_rows)
    tallies.fold()
    assert _exposed(tallied) == _exposed(direct)
    assert 'd_seconds_bucket{le="+Inf",model="m",version="1"} ' + f"{len(calls)}.0" in _exposed(tallied)
    tallies.fold()  # nothing new: nothing added twice
    assert _exposed(tallied) == _exposed(direct)


def test_a_read_of_the_registry_folds_first() -> None:
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    metrics.calls.of("m", "3").add(0.0004, 2)
    metrics.calls.of("m", "3").add(0.02, 5)
    read = metrics.registry.get_sample_value
    assert read("model_predictions_total", {"model": "m", "version": "3"}) == 7
    assert read("model_batch_rows_count", {"model": "m"}) == 2
    assert read("model_inference_duration_seconds_bucket", {"model": "m", "version": "3", "le": "0.0005"}) == 1
    assert read("model_inference_duration_seconds_bucket", {"model": "m", "version": "3", "le": "0.025"}) == 2
    assert b"model_predictions_total" in metrics.exposition()[0]


def test_no_count_is_lost_to_folds_racing_the_calls() -> None:
    registry = CollectorRegistry()
    registry.register(FoldFirst(lambda: tallies.fold()))  # noqa: PLW0108 - ahead of the series, made below
    tallies = CallTallies(*_series(registry))
    threads, per_thread = 4, 20000
    done = threading.Event()

    def calls() -> None:
        for i in range(per_thread):
            tallies.of("m", "1").add(0.001 * (i % 3), 1 + i % 2)

    def folds() -> None:
        while not done.is_set():
            registry.get_sample_value("p_total", {"model": "m", "version": "1"})

    folding = threading.Thread(target=folds)
    folding.start()
    workers = [threading.Thread(target=calls) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    folding.join()
    rows_each = sum(1 + i % 2 for i in range(per_thread))
    assert registry.get_sample_value("p_total", {"model": "m", "version": "1"}) == threads * rows_each
    assert registry.get_sample_value("r_rows_count", {"model": "m"}) == threads * per_thread
    assert registry.get_sample_value("d_seconds_count", {"model": "m", "version": "1"}) == threads * per_thread
