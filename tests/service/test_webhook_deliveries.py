"""The replay guard's memory: each delivery id once, ids kept only while a replay could pass, never more
than the capacity."""

from __future__ import annotations

import time

from service.webhook_deliveries import SeenDeliveries


def test_a_delivery_id_is_first_seen_once() -> None:
    seen = SeenDeliveries()
    now = time.time()
    assert seen.first_time("d-1", now) is True
    assert seen.first_time("d-1", now) is False
    assert seen.first_time("d-2", now) is True


def test_memory_is_bounded_by_the_capacity_oldest_dropped_first() -> None:
    seen = SeenDeliveries(capacity=3)
    now = time.time()
    for n in range(10):
        assert seen.first_time(f"d-{n}", now)
    assert len(seen) == 3
    assert seen.first_time("d-9", now) is False


def test_ids_are_forgotten_once_their_timestamp_window_has_passed() -> None:
    seen = SeenDeliveries(window_s=300)
    long_ago = time.time() - 3600  # refused as stale by the signature check anyway
    assert seen.first_time("old", long_ago) is True
    assert seen.first_time("new", time.time()) is True  # each call first drops the expired ids
    assert len(seen) == 1
    assert seen.first_time("new", time.time()) is False
