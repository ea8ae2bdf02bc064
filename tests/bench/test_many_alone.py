"""Each server measured alone (bench/many_alone.py): the others are stopped for the run and continued after it,
and the MLflow server is moved off the predictors' CPU."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench.load import LOAD_CPU
from bench.many_alone import alone, beside_load
from bench.servers import Server, process_tree
from tests.helpers import wait_until

SPIN = "import threading\ndef spin():\n    while True: pass\nthreading.Thread(target=spin).start()\nspin()\n"


def _spinning(tmp_path: Path, key: str) -> Server:
    server = Server(key, key, [sys.executable, "-c", SPIN], {}, 0, "/", "/", b"", tmp_path / f"{key}.log")
    server.start()
    return server


def _state(server: Server) -> str:
    assert server.proc is not None
    return Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_other_server_is_stopped_during_the_run_and_continued_after(tmp_path: Path) -> None:
    measured, other = _spinning(tmp_path, "measured"), _spinning(tmp_path, "other")
    seen: list[tuple[str, str, float]] = []

    def run() -> float:
        wait_until(lambda: _state(other) == "T", timeout=10, what="the other server stopped")  # SIGSTOP is async
        used = other.cpu_seconds()
        seen.append((_state(measured), _state(other), used))
        wait_until(lambda: measured.cpu_seconds() > 0.2, timeout=60)  # the measured one runs meanwhile
        return other.cpu_seconds() - used

    try:
        measured.wait_idle = lambda *a, **k: True  # type: ignore[method-assign]  # it spins: never idle
        other_ran = alone(measured, [measured, other], run)
        measured_state, other_state, _ = seen[0]
        assert other_state == "T"  # stopped
        assert measured_state != "T"
        assert other_ran == 0.0
        wait_until(lambda: _state(other) != "T", timeout=10)  # continued after the run
        used = other.cpu_seconds()
        wait_until(lambda: other.cpu_seconds() > used, timeout=60)
    finally:
        measured.stop()
        other.stop()


def test_the_others_are_continued_when_the_run_fails(tmp_path: Path) -> None:
    measured, other = _spinning(tmp_path, "measured"), _spinning(tmp_path, "other")

    def run() -> None:
        raise RuntimeError("wrk failed")

    try:
        measured.wait_idle = lambda *a, **k: True  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            alone(measured, [other], run)
        wait_until(lambda: _state(other) != "T", timeout=10)
    finally:
        measured.stop()
        other.stop()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or int(LOAD_CPU) not in os.sched_getaffinity(0), reason="one CPU")
def test_the_registry_moves_to_wrks_cpu_with_all_its_threads(tmp_path: Path) -> None:
    registry = _spinning(tmp_path, "registry")  # started pinned to the predictors' CPU, two threads
    try:
        assert registry.proc is not None
        pid = registry.proc.pid
        wait_until(lambda: len(list(Path(f"/proc/{pid}/task").iterdir())) >= 2, timeout=30)
        beside_load(registry)
        for tree_pid in process_tree(pid):
            for task in Path(f"/proc/{tree_pid}/task").iterdir():
                assert os.sched_getaffinity(int(task.name)) == {int(LOAD_CPU)}
    finally:
        registry.stop()
