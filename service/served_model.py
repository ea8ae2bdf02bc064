"""One served model as a unit: what it follows, the versions in memory, its own queue, batching and thread.

Each model has its own `Batcher` (queue, batching, model thread), so a model that raises or hangs fills
only its own queue and thread: the others keep their latency. The capture writer is shared (capture
already partitions rows by model).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from service.batching import Batcher
from service.budgeted_loading import BudgetedLoading
from service.capture import CaptureWriter
from service.loaded_model import LoadedModel, ModelVersion
from service.metrics import Metrics
from service.model_manager import Loader, ModelManager
from service.model_uri import ModelURI
from service.predictor import Predictor
from service.registry import Resolver
from service.settings import Settings
from service.shadow import Shadow
from service.shadow_follower import shadow_of
from service.shared_calls import SharedTurn


@dataclass(frozen=True)
class ModelServices:
    """What every served model shares: settings, metrics, the registry (or the selection's snapshot of it),
    the capture writer, the loader."""

    settings: Settings
    metrics: Metrics
    registry: Resolver
    capture: CaptureWriter | None
    loader: Loader
    cache_root: Path
    budgeted: BudgetedLoading
    """Measures every load; under MODEL_MEMORY_BUDGET_MB also defers loads and unloads models."""
    shared: SharedTurn = field(default_factory=SharedTurn)
    """Lone rows of binary linear classifiers, across models, share one call a turn (service/shared_calls.py)."""


class ServedModel:
    """One served model. `name` is the registered model's name and its route name
    (`/invocations/{name}`, `/v2/models/{name}`)."""

    def __init__(self, uri: ModelURI, services: ModelServices, holds_readiness: bool = True) -> None:
        settings = services.settings
        self.name = uri.name
        self.uri = uri
        self.cache_root = services.cache_root / _folder_name(uri.name)
        self.cache_root.mkdir(parents=True, exist_ok=True)
        self.manager = ModelManager(
            uri,
            services.registry,
            services.metrics,
            self.cache_root,
            cache_size=settings.model_cache_size,
            interval_s=settings.reload_interval_s,
            loader=services.budgeted.loader(uri.name, services.loader),
        )
        self.metrics = services.metrics
        self.shadow: Shadow | None = shadow_of(self.manager, services)  # SHADOW_ALIAS (issue 18)
        self.batcher = Batcher(
            services.metrics,
            settings.max_batch_size,
            settings.max_batch_wait_ms,
            model=uri.name,
            shared=services.shared,
        )
        self.predictor = Predictor(
            self.manager,
            self.batcher,
            services.capture,
            settings.max_rows,
            settings.request_timeout_s,
            settings.capture_sample_rate,
            self.shadow,
        )
        self.last_used = time.monotonic()
        """`time.monotonic()` of the last request routed here."""
        self.added_at = time.monotonic()
        self.holds_readiness_until = self.added_at + (settings.model_startup_bound_s if holds_readiness else 0.0)
        """Until then, with several models, this one keeps `/health/ready` at 503 while no version serves
        (`MODEL_STARTUP_BOUND_S`; models selected after start never do)."""
        # -- memory budget --
        self.budgeted = services.budgeted
        self.residency = services.budgeted.register(uri.name, self.manager, self.batcher.busy)
        self.timeout_s = settings.request_timeout_s

    @property
    def current(self) -> LoadedModel | None:
        """The version serving now (None until one has loaded)."""
        return self.manager.current

    def start(self) -> None:
        """Start the model's queue consumer (on the running event loop) and its alias follower thread."""
        self.batcher.start()
        self.manager.start()
        if self.shadow is not None:
            self.shadow.start()

    async def stop(self) -> None:
        """Stop following, finish what is queued (requests in flight are answered), free the versions."""
        self.budgeted.forget(self.name)
        await asyncio.to_thread(self.manager.stop)
        await self.batcher.stop()
        if self.shadow is not None:  # after the batcher (no more requests to shadow), before the capture closes
            await asyncio.to_thread(self.shadow.stop)
        for loaded in list(self.manager.cache.values()):
            loaded.discard()
        shutil.rmtree(self.cache_root, ignore_errors=True)

    def used(self) -> None:
        self.last_used = time.monotonic()
        self.residency.used(self.last_used)

    async def loaded_for_call(self) -> None:
        """A model unloaded under MODEL_MEMORY_BUDGET_MB loads for this call (waiting up to REQUEST_TIMEOUT_S)."""
        if self.manager.current is None and self.manager.deferred is not None:
            await self.budgeted.ensure_loaded(self.residency, self.timeout_s)

    def holds_readiness(self) -> bool:
        """Whether this model, having no version serving, still keeps the service not ready."""
        unserved = self.manager.current is None and self.manager.deferred is None  # unloaded (budget): serves
        return unserved and time.monotonic() < self.holds_readiness_until


def limited(loader: Loader, slots: threading.BoundedSemaphore) -> Loader:
    """`loader`, run by at most as many threads at once as `slots` allows (`MODEL_LOAD_CONCURRENCY`)."""

    def load(meta: ModelVersion, cache_root: Path) -> LoadedModel:
        with slots:
            return loader(meta, cache_root)

    return load


def _folder_name(name: str) -> str:
    """A folder name for a registered model's name (which may hold any character but '/')."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + f"-{zlib.crc32(name.encode()):08x}"
