"""The switch interval is short while any version loads and restored once the last load ends."""

from __future__ import annotations

import sys
import threading

import pytest

from service.load_share import LOAD_SWITCH_INTERVAL_S, loading


def test_the_interval_is_short_while_loads_overlap_and_restored_after() -> None:
    usual = sys.getswitchinterval()
    first_in, first_may_end = threading.Event(), threading.Event()
    seen: list[float] = []

    def first() -> None:
        with loading():
            first_in.set()
            first_may_end.wait(timeout=60)
            seen.append(sys.getswitchinterval())

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(timeout=60)
    with loading():
        seen.append(sys.getswitchinterval())
    seen.append(sys.getswitchinterval())  # the first load still runs
    first_may_end.set()
    thread.join(timeout=60)
    assert seen == [pytest.approx(LOAD_SWITCH_INTERVAL_S)] * 3  # kept in microseconds
    assert sys.getswitchinterval() == usual


def test_a_failed_load_restores_the_interval() -> None:
    usual = sys.getswitchinterval()
    with pytest.raises(RuntimeError), loading():
        raise RuntimeError("the artifact is gone")
    assert sys.getswitchinterval() == usual
