"""Each server measured alone: the other one is stopped (SIGSTOP) for the run, and the measured one idle first.

The mixed-traffic goal divides two servers' req/s measured one after the other on the same CPU (both pinned
to CPU 0, with the MLflow server). The server not under test is not idle: the 100-model one follows 100
aliases and the selection (about 50 registry calls a second, answered by the MLflow server on that CPU),
and either may still be answering the previous run's backlog or writing the capture rows it holds (a flush
every 60 s at the latest). In the quiet run of 2026-11-30 19:59 the 100-model server measured 3,229 and
3,393 req/s, the one-model server 6,333 and 3,776: the noise was the one-model server's. Its cause was
not found (the other server idle costs ~1.5% of a core); what it shared its CPU with is one candidate.
Stopping the other process for the run, and waiting until the measured one uses under 5% of a core, takes
that out of both measures without changing either server.

The MLflow server is moved to wrk's CPU (`beside_load`): a real registry runs elsewhere, and on the
predictors' CPU it answered the 100-model server's alias polls (2% of that CPU in a run, measured with
/proc on the loaded machine, 2026-11-30 21:48) and the moved version's download during the alias move,
both counted against the predictor under test.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from bench.load import LOAD_CPU
from bench.servers import Server, process_tree

log = logging.getLogger(__name__)
T = TypeVar("T")


@contextmanager
def paused(server: Server) -> Iterator[None]:
    """The server's process group stopped (SIGSTOP) inside the block, continued after it."""
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(server.proc.pid, signal.SIGCONT)


def beside_load(server: Server) -> None:
    """Every thread of the server's process tree moved to wrk's CPU (children started later inherit it)."""
    assert server.proc is not None
    for pid in process_tree(server.proc.pid):
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with suppress(OSError):  # exited meanwhile
                os.sched_setaffinity(int(task.name), {int(LOAD_CPU)})


def alone(server: Server, others: Iterable[Server], run: Callable[[], T]) -> T:
    """`run()` (a wrk run against `server`) with the `others` stopped, once `server` is idle."""
    with ExitStack() as stack:
        for other in others:
            if other is not server:
                stack.enter_context(paused(other))
        if not server.wait_idle():
            log.warning("%s still busy before the run (over 5%% of a core for 30 s): measured anyway", server.label)
        return run()
