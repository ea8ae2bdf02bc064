"""Small helpers shared by the tests: free ports and waiting on a condition with a deadline."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

T = TypeVar("T")

GIVE_UP: tuple[type[Exception], ...] = (RuntimeError,)
"""What a `wait_until` predicate raises when waiting cannot help, e.g. "service exited" (tests/processes.py)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], T | bool | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds.

    Most exceptions raised by the predicate count as "not yet" (a server that is still starting refuses
    connections, an assertion not true yet), and the last one is reported on time-out. A RuntimeError
    means waiting is pointless (tests/processes.py raises one when the process waited on has exited): it
    is raised at once.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result  # type: ignore[return-value]
        except GIVE_UP:
            raise
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})"
            raise TimeoutError(message) from last_error
        time.sleep(interval)


def venv_binary(name: str) -> str:
    """A console script of this environment (moto_server, st, ...), never a same-named one elsewhere on PATH."""
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / name
    if not beside.exists():
        raise FileNotFoundError(f"{name} is not installed in {beside.parent}: run `make install`")
    return str(beside)


@contextmanager
def tracking_uri_restored() -> Iterator[None]:
    """Put the fluent API's tracking URI back after a block that moves it (other tests rely on it)."""
    import mlflow

    before = mlflow.get_tracking_uri()
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)


def not_installed(reason: str, skipped: str) -> NoReturn:
    """A dependency the test needs is missing: under `CI=true` (where .ci/run installs it) the test fails with
    `reason`; elsewhere it is skipped, loudly, with `skipped`."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(skipped)


def need_commands(*commands: str, what: str) -> None:
    """Skip `what` loudly when a command is missing, outside CI; in CI (`CI=true`) that is a failure."""
    import shutil

    missing = [command for command in commands if shutil.which(command) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed: run .ci/system-deps (make system-deps)"
        not_installed(reason, f"SKIPPING {what}: {reason}")
