"""The interpreter settings the service process runs with (`service/app.py`, `tune_interpreter`)."""

from __future__ import annotations

import gc
import sys

from service.app import GC_YOUNG_THRESHOLD, GIL_SWITCH_INTERVAL_S, tune_interpreter


def test_the_young_collection_threshold_and_the_switch_interval_are_set() -> None:
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        gc.set_threshold(700, 10, 10)
        tune_interpreter()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)  # the older generations' as they were
        assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
