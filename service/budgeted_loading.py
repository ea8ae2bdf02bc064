"""The memory budget at work on the served models: measured loads, lazy loads, unloads and cold loads.

`service/memory_budget.py` decides; this module acts. Every version a served model loads is measured after
its load (`service/model_size.py`): `/model` `memory_mb`, `model_memory_bytes{model,version}`. Without a
budget that is all. With one (`MODEL_MEMORY_BUDGET_MB`) every load goes through `loader`, one at a time under
the budget's lock:
- a model never called loads (at start, or when its alias moves) only while it fits beside what is loaded;
  otherwise it is left unloaded (`LoadDeferred`) until a call wants it;
- a model a call wants, or one loaded already whose alias moved, loads after the least recently used models
  not being called are unloaded to make room;
- an unloaded model keeps following its alias (resolving costs no memory) and counts as ready; its first
  call waits for the load (`ensure_loaded`) up to REQUEST_TIMEOUT_S, then answers 503 with Retry-After
  while the load goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from service.errors import NotReadyError
from service.loaded_model import LoadedModel, ModelVersion
from service.memory_budget import MB, MemoryBudget
from service.metrics import Metrics
from service.model_size import retained_bytes

if TYPE_CHECKING:
    from service.model_manager import ModelManager

log = logging.getLogger(__name__)

Loader = Callable[[ModelVersion, Path], LoadedModel]


class LoadDeferred(Exception):
    """Memory budget: this version is not loaded now; the model stays unloaded until a call wants it."""


@dataclass(eq=False)
class Residency:
    """One served model as the budget sees it (`memory_budget.BudgetedModel`)."""

    name: str
    manager: ModelManager
    busy: Callable[[], bool]
    """Calls queued or running in the model's batcher."""
    budgeted: BudgetedLoading
    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes each version in memory holds, by version."""
    last_used: float = 0.0
    called: bool = False
    wanted: bool = False
    """Loaded, or a call waits for its load: its loads go ahead, making room if they must."""
    cold_load: asyncio.Task[None] | None = None

    @property
    def memory_bytes(self) -> int:
        return sum(self.sizes.get(version, 0) for version in list(self.manager.cache))

    @property
    def in_use(self) -> bool:
        return self.busy()

    def used(self, when: float) -> None:
        self.last_used = when
        self.called = True

    def unload(self) -> None:
        self.budgeted.unload(self)


class BudgetedLoading:
    def __init__(self, budget: MemoryBudget, metrics: Metrics) -> None:
        self.budget = budget
        self.metrics = metrics
        self.models: dict[str, Residency] = {}

    def register(self, name: str, manager: ModelManager, busy: Callable[[], bool]) -> Residency:
        residency = Residency(name, manager, busy, self)
        self.models = {**self.models, name: residency}  # replaced, never mutated: load threads read it
        self.metrics.unloads.labels(name)  # the series exist at 0 from the start: increase() sees the first
        self.metrics.cold_loads.labels(name)
        self.metrics.cold_load_seconds.labels(name)
        return residency

    def forget(self, name: str) -> None:
        residency = self.models.get(name)
        self.models = {n: r for n, r in self.models.items() if n != name}
        if residency is not None:
            self._unpublish(residency, keep=())
            for metric in (self.metrics.unloads, self.metrics.cold_loads, self.metrics.cold_load_seconds):
                with contextlib.suppress(KeyError):
                    metric.remove(name)

    def loader(self, name: str, inner: Loader) -> Loader:
        """`inner`, measured; under a budget also deferred, or preceded by unloads (the module's docstring)."""

        def load(meta: ModelVersion, cache_root: Path) -> LoadedModel:
            residency = self.models[name]
            if not self.budget.enabled:
                return self._measured(residency, inner(meta, cache_root))
            with self.budget.lock:
                others = list(self.models.values())
                guess = self.budget.estimate(name)
                if not residency.wanted and (residency.called or not self.budget.fits(others, guess)):
                    raise LoadDeferred(f"{name} version {meta.version} left unloaded (MODEL_MEMORY_BUDGET_MB)")
                self.budget.make_room(others, residency, guess)
                loaded = self._measured(residency, inner(meta, cache_root))
                residency.wanted = True
                # Not swapped in yet: the new version is the `extra` beside what the model holds now.
                self.budget.make_room(others, residency, residency.sizes[loaded.version])
                return loaded

        return load

    def _measured(self, residency: Residency, loaded: LoadedModel) -> LoadedModel:
        size = retained_bytes(loaded)
        self._unpublish(residency, keep=(*residency.manager.cache, loaded.version))
        residency.sizes[loaded.version] = size
        self.budget.measured(residency.name, size)
        self.metrics.model_memory.labels(residency.name, loaded.version).set(size)
        return loaded

    def _unpublish(self, residency: Residency, keep: tuple[str, ...]) -> None:
        """Forget the sizes (and gauge series) of versions no longer in memory."""
        for version in [v for v in residency.sizes if v not in keep]:
            del residency.sizes[version]
            with contextlib.suppress(KeyError):
                self.metrics.model_memory.remove(residency.name, version)

    def unload(self, residency: Residency) -> None:
        """Every version of the model out of memory; it keeps following its alias, unloaded."""
        freed = residency.memory_bytes
        if not residency.manager.unload():
            return  # loading right now: left alone
        residency.wanted = False
        self._unpublish(residency, keep=())
        self.metrics.unloads.labels(residency.name).inc()
        log.info("unloaded %s (%.2f MB) to stay within MODEL_MEMORY_BUDGET_MB", residency.name, freed / MB)

    async def ensure_loaded(self, residency: Residency, timeout_s: float) -> None:
        """Load an unloaded model for a call; wait up to `timeout_s` (then 503, and the load goes on)."""
        if residency.cold_load is None or residency.cold_load.done():
            residency.cold_load = asyncio.get_running_loop().create_task(self._cold_load(residency))
            residency.cold_load.add_done_callback(_retrieved)
        try:
            await asyncio.wait_for(asyncio.shield(residency.cold_load), timeout_s)
        except TimeoutError:
            raise NotReadyError(
                f"{residency.name} was unloaded (MODEL_MEMORY_BUDGET_MB) and is still loading after "
                f"REQUEST_TIMEOUT_S={timeout_s:g}s"
            ) from None

    async def _cold_load(self, residency: Residency) -> None:
        """One load for every call waiting on it (the task is shared); counted once."""
        started = time.monotonic()
        residency.wanted = True
        self.metrics.cold_loads.labels(residency.name).inc()
        await asyncio.to_thread(residency.manager.load_deferred)
        if residency.manager.current is None:
            residency.wanted = False
            reason = residency.manager.last_error or "its load was deferred again"
            raise NotReadyError(f"{residency.name} was unloaded and could not be loaded: {reason}")
        self.metrics.cold_load_seconds.labels(residency.name).observe(time.monotonic() - started)


def _retrieved(task: asyncio.Task[None]) -> None:
    """A failed cold load was answered to the calls that waited; nobody else awaits its task."""
    if not task.cancelled():
        task.exception()
