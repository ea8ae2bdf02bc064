"""MODEL_MEMORY_BUDGET_MB: which served models to unload so that a load fits, least recently used first.

The policy only. It knows models through `BudgetedModel` (the memory a model holds now, when it was last
called, whether a call is in flight, how to unload it), so it is tested on its own; the served models ask it
before a load (make room for what the model held last time, or for a typical model when it never loaded)
and after it (the measured size may be larger than the guess).

A model being called is never unloaded, nor the one being loaded. When the models in use alone exceed the
budget, the load goes ahead all the same: the budget plans memory, it does not refuse requests; the service
is then over its budget until those calls end, and says so (`over_budget`, logged once per change).
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Iterable
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)

MB = 1024 * 1024


class BudgetedModel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def last_used(self) -> float:
        """`time.monotonic()` of the last call (0 for a model never called)."""
        ...

    @property
    def memory_bytes(self) -> int:
        """What the model holds in memory now; 0 while it is unloaded."""
        ...

    @property
    def in_use(self) -> bool:
        """Calls are in flight: unloading now would not free its memory, and would cost a reload at once."""
        ...

    def unload(self) -> None: ...


M = TypeVar("M", bound=BudgetedModel)


class MemoryBudget:
    """The budget, the sizes measured so far, and one lock so loads under a budget are counted one at a time."""

    def __init__(self, budget_mb: float) -> None:
        self.budget_bytes = int(budget_mb * MB)
        self.sizes: dict[str, int] = {}
        """The size each model had at its last load: the best guess for its next one."""
        self.lock = threading.Lock()
        """Held around make room + load + settle: two loads never plan against the same free memory."""
        self.over_budget = False

    @property
    def enabled(self) -> bool:
        return self.budget_bytes > 0

    @staticmethod
    def used(models: Iterable[BudgetedModel]) -> int:
        return sum(model.memory_bytes for model in models)

    def estimate(self, name: str) -> int:
        """What loading `name` will take: its last measured size, else the median size of the others, else 0."""
        if name in self.sizes:
            return self.sizes[name]
        return int(statistics.median(self.sizes.values())) if self.sizes else 0

    def measured(self, name: str, size: int) -> None:
        self.sizes[name] = size

    def fits(self, models: Iterable[BudgetedModel], extra: int) -> bool:
        """Whether `extra` more bytes fit beside what `models` hold, without unloading anything."""
        return not self.enabled or self.used(models) + extra <= self.budget_bytes

    def to_unload(self, models: Iterable[M], keep: BudgetedModel | None, extra: int) -> list[M]:
        """The idle loaded models to unload, least recently used first, so that `extra` more bytes fit."""
        models = list(models)
        if not self.enabled:
            return []
        excess = self.used(models) + extra - self.budget_bytes
        victims: list[M] = []
        idle = [m for m in models if m is not keep and m.memory_bytes > 0 and not m.in_use]
        for model in sorted(idle, key=lambda m: m.last_used):
            if excess <= 0:
                break
            victims.append(model)
            excess -= model.memory_bytes
        return victims

    def make_room(self, models: Iterable[M], keep: BudgetedModel | None, extra: int = 0) -> list[M]:
        """Unload what `to_unload` picks; note (and log on a change) whether the budget still holds."""
        models = list(models)
        victims = self.to_unload(models, keep, extra)
        for victim in victims:
            log.info(
                "unloading %s (%.1f MB) to stay within MODEL_MEMORY_BUDGET_MB", victim.name, victim.memory_bytes / MB
            )
            victim.unload()
        self._over(self.used(models) + extra > self.budget_bytes if self.enabled else False)
        return victims

    def _over(self, over: bool) -> None:
        if over != self.over_budget:
            if over:
                log.warning(
                    "models in use hold more than MODEL_MEMORY_BUDGET_MB=%g: over budget until their calls end",
                    self.budget_bytes / MB,
                )
            else:
                log.info("models in memory fit MODEL_MEMORY_BUDGET_MB=%g again", self.budget_bytes / MB)
        self.over_budget = over
