"""`make monitor` (python -m monitoring.run_local): starts Prometheus and the Pushgateway on the given
ports with the alerts loaded, stops both on Ctrl-C, and refuses clearly when it cannot run."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from monitoring.run_local import main
from tests.helpers import free_port, wait_until
from tests.monitoring.prometheus_process import require_binary
from tests.monitoring.sources import load_rules
from tests.processes import ManagedProcess


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_missing_binary_prints_the_fix_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--prometheus-bin", str(tmp_path / "prometheus"), "--data-dir", str(tmp_path / "data")])

    assert code == 2
    err = capsys.readouterr().err
    assert "make monitoring-tools" in err
    assert "apt-get install -y prometheus prometheus-pushgateway" in err
    assert not (tmp_path / "data").exists()


def test_taken_port_is_named_with_the_flag_to_change_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_binary("prometheus")
    require_binary("prometheus-pushgateway")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["--prometheus-port", str(port), "--data-dir", str(tmp_path)])

    assert code == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert "pass --prometheus-port PORT" in err


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[tuple[ManagedProcess, int, int, str]]:
    require_binary("prometheus")
    require_binary("prometheus-pushgateway")
    prometheus_port, pushgateway_port, predictor = free_port(), free_port(), f"127.0.0.1:{free_port()}"
    args = [
        sys.executable,
        "-m",
        "monitoring.run_local",
        "--predictor",
        predictor,
        "--scrape-interval",
        "1s",
        "--prometheus-port",
        str(prometheus_port),
        "--pushgateway-port",
        str(pushgateway_port),
        "--data-dir",
        str(tmp_path / "monitor"),
    ]
    process = ManagedProcess(args, {**os.environ, "PYTHONUNBUFFERED": "1"}, tmp_path / "monitor.log")
    process.start()
    yield process, prometheus_port, pushgateway_port, predictor
    process.terminate()


def test_monitor_serves_both_with_the_alerts_and_stops_on_ctrl_c(
    monitor: tuple[ManagedProcess, int, int, str], tmp_path: Path
) -> None:
    process, prometheus_port, pushgateway_port, predictor = monitor
    wait_until(
        lambda: "Ctrl-C stops both" in process.log_text() or not process.alive(),
        timeout=60,
        what="make monitor to print its URLs",
    )
    assert process.alive(), process.log_text()
    prometheus = f"http://127.0.0.1:{prometheus_port}"

    assert f"Prometheus   {prometheus}" in process.log_text()
    assert f"Pushgateway  http://127.0.0.1:{pushgateway_port}" in process.log_text()
    config = yaml.safe_load(httpx.get(f"{prometheus}/api/v1/status/config").json()["data"]["yaml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["aliasserve"]["static_configs"] == [{"targets": [predictor]}]
    assert jobs["pushgateway"]["static_configs"] == [{"targets": [f"127.0.0.1:{pushgateway_port}"]}]
    assert jobs["pushgateway"]["honor_labels"] is True
    groups = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
    assert {rule["name"] for group in groups for rule in group["rules"]} == set(load_rules())
    assert httpx.get(f"http://127.0.0.1:{pushgateway_port}/-/ready").status_code == 200
    assert (tmp_path / "monitor" / "prometheus.yml").is_file()

    assert process.proc is not None
    os.kill(process.proc.pid, signal.SIGINT)

    assert process.proc.wait(timeout=30) == 0
    assert "stopping Prometheus and Pushgateway" in process.log_text()
    assert not port_open(prometheus_port)
    assert not port_open(pushgateway_port)
