"""The memory budget on its own: who is unloaded, and when nobody is (service/memory_budget.py); a model's
retained size (service/model_size.py); a cold load that outlasts the call (service/budgeted_loading.py)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import numpy as np
import pytest

from service.budgeted_loading import BudgetedLoading
from service.errors import NotReadyError
from service.memory_budget import MB, MemoryBudget
from service.metrics import Metrics
from service.model_size import retained_bytes


@dataclass(eq=False)
class Model:
    name: str
    memory_bytes: int = 0
    last_used: float = 0.0
    in_use: bool = False
    unloads: int = 0

    def unload(self) -> None:
        self.memory_bytes = 0
        self.unloads += 1


def three(size: int = 10 * MB) -> list[Model]:
    return [Model("a", size, last_used=3.0), Model("b", size, last_used=1.0), Model("c", size, last_used=2.0)]


def test_no_budget_never_unloads() -> None:
    budget = MemoryBudget(0)
    models = three()
    assert not budget.enabled
    assert budget.fits(models, 10**12)
    assert budget.make_room(models, None, 10**12) == []
    assert all(m.memory_bytes for m in models)
    assert not budget.over_budget


def test_a_load_that_fits_unloads_nothing() -> None:
    budget = MemoryBudget(40)
    models = three()
    assert budget.fits(models, 10 * MB)
    assert budget.make_room(models, None, 10 * MB) == []


def test_the_least_recently_used_goes_first_and_only_as_many_as_needed() -> None:
    budget = MemoryBudget(30)
    models = three()
    incoming = Model("d")
    victims = budget.make_room([*models, incoming], incoming, 10 * MB)
    assert [v.name for v in victims] == ["b"]
    assert [m.unloads for m in models] == [0, 1, 0]
    victims = budget.make_room([*models, incoming], incoming, 25 * MB)
    assert [v.name for v in victims] == ["c", "a"]  # b already holds nothing; then by last use
    assert not budget.over_budget


def test_a_model_being_called_or_being_loaded_is_never_unloaded() -> None:
    budget = MemoryBudget(20)
    a, b, c = three()
    b.in_use = True
    victims = budget.make_room([a, b, c], keep=c, extra=0)
    assert victims == [a]
    assert b.memory_bytes
    assert c.memory_bytes


def test_when_the_models_in_use_exceed_the_budget_the_load_goes_ahead_over_budget() -> None:
    budget = MemoryBudget(15)
    a, b, c = three()
    a.in_use = b.in_use = True
    victims = budget.make_room([a, b, c], keep=None, extra=10 * MB)
    assert victims == [c]
    assert budget.over_budget
    a.in_use = b.in_use = False
    assert [v.name for v in budget.make_room([a, b, c], keep=None)] == ["b"]
    assert not budget.over_budget


def test_the_guess_for_a_load_is_the_last_size_else_the_median_of_the_others() -> None:
    budget = MemoryBudget(100)
    assert budget.estimate("a") == 0
    budget.measured("a", 10)
    budget.measured("b", 30)
    budget.measured("c", 20)
    assert budget.estimate("b") == 30
    assert budget.estimate("never-loaded") == 20


def test_retained_bytes_counts_what_the_object_holds_and_not_shared_modules() -> None:
    weights = np.zeros(1_000_000)  # 8 MB
    held = {"weights": weights, "predict": lambda x: x @ weights, "module": np}
    size = retained_bytes(held)
    assert weights.nbytes <= size < weights.nbytes + MB
    assert retained_bytes({"module": np, "cls": np.ndarray}) < 10_000


class BlockedManager:
    """A follower whose deferred load waits until the test releases it."""

    def __init__(self) -> None:
        self.current: object | None = None
        self.deferred: object | None = object()
        self.cache: dict[str, object] = {}
        self.last_error: str | None = None
        self.release = threading.Event()
        self.loads = 0

    def load_deferred(self) -> None:
        self.loads += 1
        self.release.wait(timeout=60)
        self.current = object()


def test_a_call_that_outwaits_its_cold_load_gets_503_and_the_shared_load_goes_on() -> None:
    metrics = Metrics()
    budgeted = BudgetedLoading(MemoryBudget(10), metrics)
    manager = BlockedManager()
    residency = budgeted.register("m", manager, lambda: False)  # type: ignore[arg-type]

    async def calls() -> None:
        with pytest.raises(NotReadyError, match="still loading after REQUEST_TIMEOUT_S"):
            await budgeted.ensure_loaded(residency, 0.05)  # the load never ends before the release
        second = asyncio.ensure_future(budgeted.ensure_loaded(residency, 60))
        await asyncio.sleep(0)
        manager.release.set()
        await second

    asyncio.run(calls())
    assert manager.loads == 1  # both calls shared one load
    assert metrics.registry.get_sample_value("model_cold_loads_total", {"model": "m"}) == 1
    assert metrics.registry.get_sample_value("model_cold_load_seconds_count", {"model": "m"}) == 1
