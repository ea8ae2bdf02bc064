"""A real Prometheus (and Pushgateway) for tests, on free loopback ports, with data under tmp_path.

prometheus = start_prometheus(tmp_path, [service_host_port], honor_labels_targets=[gateway_host_port])
sent_at = time.time(); ...send traffic...
wait_for_scrape(prometheus, "aliasserve", after=sent_at)
prometheus.query('sum(http_requests_total{route="/invocations"})')  # -> [{"metric": ..., "value": ...}]
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from monitoring.prometheus_config import ALERTS, INSTALL_HINT, find_binary, render_config
from tests.helpers import free_port, not_installed, wait_until
from tests.processes import ManagedProcess


def require_binary(name: str) -> Path:
    """The binary's path; when missing, skip loudly (a developer machine) or fail (CI=true)."""
    path = find_binary(name)
    if path is None:
        reason = f"{name} is not installed, so this monitoring test cannot run: {INSTALL_HINT}"
        not_installed(reason, f"SKIPPED LOUDLY: {reason}")
    return path


class RunningServer:
    """A Prometheus or Pushgateway process answering on `url` (http://127.0.0.1:PORT)."""

    def __init__(self, process: ManagedProcess, url: str) -> None:
        self.process, self.url = process, url

    @property
    def address(self) -> str:
        """host:port, as a scrape target is written."""
        return self.url.removeprefix("http://")

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> None:
        self.process.terminate()


class RunningPrometheus(RunningServer):
    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result of an instant query (a list of {"metric": labels, "value": [time, "text"]})."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {body.get('error', response.text)}")
        return list(body["data"]["result"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """/api/v1/rules: the loaded groups with each rule's health, state and alerts."""
        response = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        response.raise_for_status()
        return list(response.json()["data"]["groups"])


def _start(name: str, args: list[str], tmp_path: Path, port: int) -> RunningServer:
    process = ManagedProcess(args, dict(os.environ), tmp_path / f"{name}-{port}.log")
    process.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not process.alive():
            raise AssertionError(f"{name} exited at start:\n{process.log_text()[-2000:]}")
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200

    try:
        wait_until(ready, timeout=60, interval=0.1, what=f"{name} on {url} to be ready")
    except BaseException:
        process.terminate()
        raise
    return RunningServer(process, url)


def start_prometheus(
    tmp_path: Path,
    scrape_targets: Sequence[str],
    rule_files: Sequence[Path] = (ALERTS,),
    honor_labels_targets: Sequence[str] = (),
    scrape_interval: str = "1s",
) -> RunningPrometheus:
    """Prometheus scraping `scrape_targets` as job="aliasserve" and `honor_labels_targets` (Pushgateways)
    with honor_labels, evaluating `rule_files` every `scrape_interval`. Stop it with `.stop()`."""
    binary = require_binary("prometheus")
    port = free_port()
    root = tmp_path / f"prometheus-{port}"
    root.mkdir(parents=True)
    config = root / "prometheus.yml"
    config.write_text(render_config(scrape_targets, honor_labels_targets, rule_files, scrape_interval))
    args = [
        str(binary),
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    server = _start("prometheus", args, root, port)
    return RunningPrometheus(server.process, server.url)


def start_pushgateway(tmp_path: Path) -> RunningServer:
    """A Pushgateway with its own persistence file. Stop it with `.stop()`.

    Debian's build defaults `--persistence.file` to /var/lib/prometheus/pushgateway.data, so two gateways
    started without the flag share (and restore) each other's pushes: always pass a file of our own."""
    binary = require_binary("prometheus-pushgateway")
    port = free_port()
    args = [
        str(binary),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--persistence.file={tmp_path / f'pushgateway-{port}.data'}",
    ]
    return _start("pushgateway", args, tmp_path, port)


def wait_for_scrape(
    prometheus: RunningPrometheus,
    job: str = "aliasserve",
    *,
    after: float | None = None,
    require_up: bool = True,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Wait until every target of `job` has been scraped (successfully, with `require_up`) by a scrape that
    started at or after the Unix time `after` (default: now); returns the `up` samples."""
    since = time.time() if after is None else after
    selector = f'up{{job="{job}"}}'

    def scraped() -> list[dict[str, Any]] | None:
        samples = prometheus.query(f"timestamp({selector})")
        ups = prometheus.query(selector)
        fresh = samples and all(float(sample["value"][1]) >= since for sample in samples)
        healthy = not require_up or all(up["value"][1] == "1" for up in ups)
        return ups if fresh and healthy else None

    return wait_until(scraped, timeout=timeout, interval=0.2, what=f"a scrape of job {job!r}")
