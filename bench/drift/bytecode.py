"""Compiled or not: the bytecode every measured process of the drift benchmark runs with.

A fresh `python` spends most of its start importing, and this machine's environments hold no `.pyc`
files (uv installs without compiling, and `PYTHONDONTWRITEBYTECODE=1` is set), so each process compiles
every module it imports from source: about 15 s of a drift check's 40 s here, and as much of
Evidently's. The project's image compiles at build time (`UV_COMPILE_BYTECODE=1` in the Dockerfile),
so by default every check (ours and Evidently's alike) runs with compiled bytecode kept in a cache of
the benchmark's own (`PYTHONPYCACHEPREFIX`, outside both environments), filled by one unmeasured
warm-up run of each tool. `--bytecode source` measures the compile-every-time case instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

COMPILED, SOURCE = "compiled", "source"
MODES = (COMPILED, SOURCE)


def bytecode_env(mode: str, cache: Path) -> dict[str, str]:
    """Environment entries for a measured process (and the variables to remove, as empty values)."""
    if mode == COMPILED:
        return {"PYTHONPYCACHEPREFIX": str(cache), "PYTHONDONTWRITEBYTECODE": ""}
    # An empty prefix folder hides any __pycache__ beside the sources, and nothing is written to it.
    return {"PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="drift-bench-nocache-"), "PYTHONDONTWRITEBYTECODE": "1"}


def apply(env: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """`env` with `extra` set; an empty value removes the variable."""
    merged = {**env, **extra}
    return {key: value for key, value in merged.items() if value != ""}


def warm_up(cache: Path, mode: str, checks: Mapping[str, Callable[[], object]]) -> list[str]:
    """Run each check once, unmeasured, unless its compiled modules are cached already; returns what ran."""
    if mode != COMPILED:
        return []
    cache.mkdir(parents=True, exist_ok=True)
    ran = []
    for name, run in checks.items():
        marker = cache / f".warm-{name}"
        if not marker.exists():
            run()
            marker.touch()
            ran.append(name)
    return ran
