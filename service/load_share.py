"""While a version loads beside serving, the event loop gets the GIL back sooner (`sys.setswitchinterval`).

A load (download, MLflow's load, warm-up, compilation, agreement check) is seconds of Python in a
background thread; the event loop gives the GIL up at every wait for I/O, many times a second under
traffic. CPython hands a waiting thread the GIL only after the holder has had it for the switch interval
(5 ms by default): every time the loop gives the GIL up to the loader, it waits up to 5 ms to get it back,
after about a millisecond of its own work. The loader thus gets most of the CPU and the other models' p99
rose 1.8x during an alias move (bench/results-many-models.md). With a shorter interval the loop waits
at most that long; the load takes longer, serving keeps most of the CPU. The interval is process-wide:
it is shortened while at least one load runs and restored when the last one ends.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOAD_SWITCH_INTERVAL_S = 0.0002
"""The switch interval while a version loads: the event loop waits at most this for the GIL."""

_lock = threading.Lock()
_loads = 0
_restore_to = 0.0


@contextmanager
def loading() -> Iterator[None]:
    """Around a version's load in a background thread."""
    global _loads, _restore_to
    with _lock:
        if _loads == 0:
            _restore_to = sys.getswitchinterval()
            sys.setswitchinterval(min(LOAD_SWITCH_INTERVAL_S, _restore_to))
        _loads += 1
    try:
        yield
    finally:
        with _lock:
            _loads -= 1
            if _loads == 0:
                sys.setswitchinterval(_restore_to)
