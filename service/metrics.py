"""The predictor's Prometheus metrics, created once per app so tests never share collectors.

With several workers prometheus-client's multiprocess mode is used: `PROMETHEUS_MULTIPROC_DIR` is set
by `python -m service` before this module is imported, values live in files there, and `/metrics`
aggregates them. Gauges say how they combine across workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from service.call_tally import FOLD_EVERY_S, CallTallies, FoldFirst
from service.shadow_metrics import ShadowMetrics
from service.worker_states import LiveCollector

# From 0.5 ms to 20 s: single-row sklearn calls take well under a millisecond, big batches seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)
LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
"""Seconds to load a version: a small model in a fraction of a second, a large one in a minute or two."""
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Every metric of SPEC's table, plus `model_ready`, `model_alias_missing` and the abandoned model calls."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        reg = None if self.multiprocess else self.registry
        # Ahead of the series, so a read folds first; `calls` is made after the series (hence the lambda).
        self.registry.register(FoldFirst(lambda: self.calls.fold()))  # noqa: PLW0108
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered.", ["route", "method", "status"], registry=reg
        )
        self.request_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight", "HTTP requests being answered.", registry=reg, multiprocess_mode="livesum"
        )
        self.inference_duration = Histogram(
            "model_inference_duration_seconds",
            "Time inside the model call (one batch).",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_rows = Histogram(
            "model_batch_rows", "Rows per model call.", ["model"], buckets=ROW_BUCKETS, registry=reg
        )
        self.predictions = Counter("model_predictions_total", "Rows predicted.", ["model", "version"], registry=reg)
        self.calls = CallTallies(self.inference_duration, self.batch_rows, self.predictions)
        """The three series above, counted per call and folded in before each read (service/call_tally.py)."""
        self.abandoned_calls = Counter(
            "model_abandoned_calls_total",
            "Model calls left running in their thread after outliving REQUEST_TIMEOUT_S.",
            ["model", "version"],
            registry=reg,
        )
        self.abandoned_threads = Gauge(
            "model_abandoned_threads",
            "Abandoned model calls still running (at the cap, predictions answer 503).",
            ["model"],
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.info = Gauge(
            "model_info",
            "The version being served (1), per worker the highest.",
            ["model", "alias", "version", "run_id", "runtime"],
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            "model_reloads_total", "Versions loaded, by model and result.", ["model", "result"], registry=reg
        )
        self.model_errors = Counter(
            "model_errors_total",
            "Model calls that raised on input the signature accepted (answered 500; 400 without a signature).",
            ["model", "version"],
            registry=reg,
        )
        self.compiles = Counter(
            "model_compile_total",
            "Versions loaded with COMPILE=auto, by result: compiled, disagreed, unconverted, unchecked.",
            ["model", "result"],
            registry=reg,
        )
        self.last_reload = Gauge(
            "model_last_reload_timestamp_seconds",
            "When a version was last swapped in.",
            ["model"],
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.registry_errors = Counter(
            "model_registry_errors_total", "Failed calls to the MLflow registry.", registry=reg
        )
        self.ready = Gauge(
            "model_ready",
            "1 while the model has a version serving and its calls are not stuck (across workers: the lowest).",
            ["model"],
            registry=reg,
            multiprocess_mode="livemin",
        )
        self.alias_missing = Gauge(
            "model_alias_missing",
            "1 while the followed alias is deleted and the last version is kept.",
            ["model"],
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.capture_rows = Counter("capture_rows_total", "Rows recorded for drift monitoring.", registry=reg)
        self.capture_dropped = Counter(
            "capture_dropped_rows_total", "Rows not recorded (queue full or write failed).", registry=reg
        )
        self.capture_errors = Counter(
            "capture_write_errors_total", "Capture files that could not be written.", registry=reg
        )
        # -- memory budget (issue 17, service/memory_budget.py) --
        self.model_memory = Gauge(
            "model_memory_bytes",
            "Memory a loaded version holds (its own objects, measured after its load; 0 once unloaded).",
            ["model", "version"],
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.unloads = Counter(
            "model_unloads_total", "Models unloaded to stay within MODEL_MEMORY_BUDGET_MB.", ["model"], registry=reg
        )
        self.cold_loads = Counter(
            "model_cold_loads_total",
            "Calls that found their model unloaded and waited for its load.",
            ["model"],
            registry=reg,
        )
        self.cold_load_seconds = Histogram(
            "model_cold_load_seconds",
            "Time a call waited for its unloaded model to load.",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=reg,
        )
        # -- end memory budget --
        self.shadow = ShadowMetrics(reg, LATENCY_BUCKETS)  # shadow scoring (issue 18)
        self._info_labels: dict[str, tuple[str, str, str, str, str]] = {}
        """The `model_info` labels set to 1, by model."""

    def following(self, model: str) -> None:
        """Create a followed model's series: reloads at 0, so increase() sees the first success or failure;
        not ready (yet), so a model that never loads shows as 0 rather than as nothing."""
        for result in ("success", "failure"):
            self.reloads.labels(model, result)
        self.ready.labels(model).set(0)
        self.alias_missing.labels(model).set(0)
        self.abandoned_threads.labels(model).set(0)

    def forget(self, model: str) -> None:
        """A model no longer served: its gauges go (counters stay, so rates over the past stay right)."""
        for gauge in (self.ready, self.alias_missing, self.last_reload, self.abandoned_threads):
            with contextlib.suppress(KeyError):
                gauge.remove(model)
        labels = self._info_labels.pop(model, None)
        if labels is not None:
            self.info.labels(*labels).set(0)
            self.info.remove(*labels)

    def set_served(self, model: str, alias: str, version: str, run_id: str, runtime: str) -> None:
        """Point `model_info` at the version now served; the old series drops to 0 and goes."""
        labels = (model, alias, version, run_id, runtime)
        previous = self._info_labels.get(model)
        if previous and previous != labels:
            self.info.labels(*previous).set(0)
            self.info.remove(*previous)
        self.info.labels(*labels).set(1)
        self._info_labels[model] = labels
        self.abandoned_calls.labels(model, version)  # the series exists at 0 from the start: increase() sees 1
        self.model_errors.labels(model, version)

    async def fold_calls_every(self, seconds: float = FOLD_EVERY_S) -> None:
        """With several workers: fold this one's call counts into the shared files now and then, so another
        worker's scrape sees them (a scrape of this worker folds first anyway)."""
        while True:
            await asyncio.sleep(seconds)
            self.calls.fold()

    def exposition(self) -> tuple[bytes, str]:
        if (folder := multiprocess_dir()) is not None:
            self.calls.fold()
            registry = CollectorRegistry()
            registry.register(LiveCollector(folder))
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
