"""Fixtures for the monitoring tests: a real Prometheus and Pushgateway, stopped at teardown.

`start_prometheus`, `start_pushgateway` and `wait_for_scrape` (tests/monitoring/prometheus_process.py) can
also be imported and used directly; then the caller stops what it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from monitoring.prometheus_config import ALERTS
from tests.monitoring.prometheus_process import (
    RunningPrometheus,
    RunningServer,
    start_prometheus,
    start_pushgateway,
    wait_for_scrape,
)

__all__ = ["start_prometheus", "start_pushgateway", "wait_for_scrape"]

PrometheusLauncher = Callable[..., RunningPrometheus]


@pytest.fixture
def prometheus_launcher(tmp_path: Path) -> Iterator[PrometheusLauncher]:
    """`launch(scrape_targets, rule_files=(alerts.yml,), honor_labels_targets=())` -> RunningPrometheus."""
    started: list[RunningPrometheus] = []

    def launch(
        scrape_targets: Sequence[str],
        rule_files: Sequence[Path] = (ALERTS,),
        honor_labels_targets: Sequence[str] = (),
    ) -> RunningPrometheus:
        prometheus = start_prometheus(tmp_path, scrape_targets, rule_files, honor_labels_targets)
        started.append(prometheus)
        return prometheus

    yield launch
    for prometheus in started:
        prometheus.stop()


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[RunningServer]:
    gateway = start_pushgateway(tmp_path)
    yield gateway
    gateway.stop()
