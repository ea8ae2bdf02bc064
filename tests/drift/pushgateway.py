"""A real Prometheus Pushgateway process on a loopback port, for tests of the drift job's metrics push."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx

from tests.helpers import not_installed, wait_until
from tests.processes import ManagedProcess, base_env

PUSHGATEWAY_BINARY = "/usr/bin/prometheus-pushgateway"
_LISTENING = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')


class Pushgateway(ManagedProcess):
    """`prometheus-pushgateway` on 127.0.0.1 (not the systemd service).

    It binds port 0 and the port is read from its "Listening on" log line: asking for a port that was
    free a moment ago races with other test processes, and a gateway that lost the race would let the
    readiness check talk to someone else's gateway.
    """

    def __init__(self, binary: str, log_dir: Path) -> None:
        self.port = 0
        self.url = ""
        log_path = log_dir / f"pushgateway-{len(list(log_dir.glob('pushgateway-*.log')))}.log"
        # Debian's build persists to /var/lib/prometheus/pushgateway.data by default, which every gateway
        # on the machine would share (and load other tests' groups from): keep metrics in memory only.
        args = [binary, "--web.listen-address=127.0.0.1:0", "--persistence.file="]
        super().__init__(args, base_env(), log_path, cwd=log_dir)

    def wait_ready(self, timeout: float = 30) -> None:
        def listening() -> bool:
            if not self.alive():
                raise RuntimeError(f"pushgateway exited:\n{self.log_text()[-2000:]}")
            match = _LISTENING.search(self.log_text())
            if match is None:
                return False
            self.port = int(match[1])
            self.url = f"http://127.0.0.1:{self.port}"
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

        wait_until(listening, timeout=timeout, interval=0.05, what="pushgateway listening")

    def metrics_text(self) -> str:
        response = httpx.get(f"{self.url}/metrics", timeout=5)
        response.raise_for_status()
        return response.text


def pushgateway_binary() -> str:
    """The installed binary; skips the test loudly without it, or fails it when `CI=true`."""
    binary = shutil.which("prometheus-pushgateway") or (
        PUSHGATEWAY_BINARY if os.path.exists(PUSHGATEWAY_BINARY) else None
    )
    if binary is None:
        reason = (
            "prometheus-pushgateway is not installed: the Pushgateway tests did NOT run "
            "(apt-get install -y prometheus-pushgateway)"
        )
        not_installed(reason, reason)
    return binary
