"""How much memory a loaded version holds: the objects only it keeps alive, measured once after its load.

Why not the RSS growth over the load: the process's resident set grows by what the load imported for the
first time (scikit-learn, skops, ONNX Runtime: tens of megabytes, charged to whichever model loads first), by
what any concurrent load or request allocated meanwhile, and by allocator arenas the load touched and freed;
and it does not shrink when a version is unloaded. A budget planned on it would be off by more than a small
model's size, and differently on every start. What the version's own objects hold is deterministic, per model,
unaffected by what runs beside it, and is exactly what unloading gives back: that is what the budget counts.

The walk follows references from the loaded version (`gc.get_referents`) and adds each object's
`sys.getsizeof` once (a numpy array that owns its data includes the data). It stops at what is shared by
every model: modules and their globals, classes, code, loggers, and objects already counted. Memory held by
native libraries outside Python objects (an ONNX Runtime session's own buffers) is not seen. Measured here on
the demo logistic regression: 0.11 MB retained, every load alike; RSS growth 107 MB over the first load (the
imports), 0.1-0.2 MB over the next ones. The bench (`bench/many_models.py`) sets the estimate beside the
measured RSS per added model.
"""

from __future__ import annotations

import gc
import logging
import sys
import types
from typing import Any

log = logging.getLogger(__name__)

MAX_OBJECTS = 2_000_000
"""A walk that reaches this many objects stops (it has escaped into shared state): the sum so far is used."""

_SHARED_TYPES: tuple[type, ...] = (
    types.ModuleType,
    type,
    types.CodeType,
    types.FrameType,
    logging.Logger,
    logging.Manager,
    logging.Handler,
)


def retained_bytes(root: object) -> int:
    """Bytes of the objects reachable from `root` that are not shared module-level state."""
    shared_dicts = {id(vars(module)) for module in list(sys.modules.values()) if module is not None}
    seen: set[int] = set()
    todo: list[Any] = [root]
    total = 0
    while todo and len(seen) < MAX_OBJECTS:
        obj = todo.pop()
        key = id(obj)
        if key in seen or key in shared_dicts or isinstance(obj, _SHARED_TYPES):
            continue
        seen.add(key)
        try:
            total += sys.getsizeof(obj)
        except TypeError:  # some extension objects refuse: they count as nothing
            continue
        if isinstance(obj, types.FunctionType):
            todo.extend(cell.cell_contents for cell in obj.__closure__ or () if _filled(cell))
            todo.extend(obj.__defaults__ or ())
            continue
        todo.extend(gc.get_referents(obj))
    if len(seen) >= MAX_OBJECTS:
        log.warning("sizing a model reached %d objects: its memory is counted as %d bytes", MAX_OBJECTS, total)
    return total


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True
