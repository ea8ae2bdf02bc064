"""The bench waits for a server's backlog to finish before it measures the next server."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.servers import Server

BUSY_THEN_IDLE = (
    "import time, sys\n"
    "while time.process_time() < 0.5: pass  # the backlog: half a second of CPU\n"
    "sys.stdout.write('done\\n'); sys.stdout.flush()\n"
    "time.sleep(120)\n"
)


def test_wait_idle_returns_once_the_backlog_is_done(tmp_path: Path) -> None:
    server = Server("busy", "busy", [sys.executable, "-c", BUSY_THEN_IDLE], {}, 0, "/", "/", b"", tmp_path / "busy.log")
    server.start()
    try:
        assert server.wait_idle(timeout=120)
        assert server.cpu_seconds() >= 0.4  # /proc counts in clock ticks
        assert "done" in server.log_path.read_text()
    finally:
        server.stop()
