"""Fixtures of the drift job's tests.

`start_pushgateway` (with tests/drift/pushgateway.py) can move to the shared tests/conftest.py as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.drift.pushgateway import Pushgateway, pushgateway_binary


@pytest.fixture
def start_pushgateway(tmp_path: Path) -> Iterator[Callable[[], Pushgateway]]:
    """Start a Pushgateway; every one started is stopped at teardown. Skips loudly (fails on CI) without it."""
    binary = pushgateway_binary()
    started: list[Pushgateway] = []

    def start() -> Pushgateway:
        gateway = Pushgateway(binary, tmp_path)
        gateway.start()
        started.append(gateway)
        gateway.wait_ready()
        return gateway

    yield start
    for gateway in started:
        gateway.terminate()
