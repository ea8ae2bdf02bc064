"""`make monitor`: a local Prometheus (with the alerts) and Pushgateway watching the predictor.

    python -m monitoring.run_local [--predictor 127.0.0.1:8000] [--prometheus-port 9090]
                                   [--pushgateway-port 9091] [--data-dir .monitor]

Both run on 127.0.0.1 with their data under `--data-dir`, until Ctrl-C (or SIGTERM) stops them.
Exit codes: 0 stopped by the user, 1 a server died, 2 missing binaries or a port already taken.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO

from monitoring.prometheus_config import INSTALL_HINT, find_binary, render_config

READY_TIMEOUT_S = 60.0


class Server:
    """One child process with its output in `<data-dir>/<name>.log`, in its own session (Ctrl-C is ours)."""

    def __init__(self, name: str, args: list[str], log_path: Path, url: str) -> None:
        self.name, self.url, self.log_path = name, url, log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m monitoring.run_local", description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", action="append", help="host:port to scrape (repeatable; 127.0.0.1:8000)")
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--pushgateway-port", type=int, default=9091)
    parser.add_argument("--scrape-interval", default="5s")
    parser.add_argument("--data-dir", type=Path, default=Path(".monitor"))
    parser.add_argument("--prometheus-bin", default="prometheus")
    parser.add_argument("--pushgateway-bin", default="prometheus-pushgateway")
    return parser.parse_args(argv)


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def fail(message: str, code: int = 2) -> int:
    print(f"make monitor: {message}", file=sys.stderr)
    return code


def start_servers(args: argparse.Namespace, prometheus: Path, pushgateway: Path) -> tuple[Server, Server]:
    """The Pushgateway and Prometheus, started (not yet ready), with the rendered configuration."""
    data_dir: Path = args.data_dir.resolve()
    (data_dir / "prometheus").mkdir(parents=True, exist_ok=True)
    config = data_dir / "prometheus.yml"
    config.write_text(
        render_config(
            args.predictor or ["127.0.0.1:8000"],
            [f"127.0.0.1:{args.pushgateway_port}"],
            scrape_interval=args.scrape_interval,
        )
    )
    gateway = Server(
        "pushgateway",
        [
            str(pushgateway),
            f"--web.listen-address=127.0.0.1:{args.pushgateway_port}",
            f"--persistence.file={data_dir / 'pushgateway.data'}",
            "--persistence.interval=1m",
        ],
        data_dir / "pushgateway.log",
        f"http://127.0.0.1:{args.pushgateway_port}",
    )
    return gateway, Server(
        "prometheus",
        [
            str(prometheus),
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{args.prometheus_port}",
            "--web.enable-lifecycle",
        ],
        data_dir / "prometheus.log",
        f"http://127.0.0.1:{args.prometheus_port}",
    )


def wait_ready(servers: list[Server]) -> Server | None:
    """None once every server answers /-/ready; else the first one that exited or never became ready."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(servers)
    while pending:
        for server in list(pending):
            if server.proc.poll() is not None:
                return server
            if server.ready():
                pending.remove(server)
        if pending and time.monotonic() > deadline:
            return pending[0]
        time.sleep(0.2)
    return None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prometheus, pushgateway = find_binary(args.prometheus_bin), find_binary(args.pushgateway_bin)
    if prometheus is None or pushgateway is None:
        missing = args.prometheus_bin if prometheus is None else args.pushgateway_bin
        return fail(f"{missing} not found; install it with: {INSTALL_HINT}")
    for flag, port in (("--prometheus-port", args.prometheus_port), ("--pushgateway-port", args.pushgateway_port)):
        if port_taken(port):
            return fail(f"port {port} on 127.0.0.1 is in use (another Prometheus?); pass {flag} PORT")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    gateway, prom = start_servers(args, prometheus, pushgateway)
    servers = [gateway, prom]
    try:
        broken = wait_ready(servers)
        if broken is not None:
            return fail(f"{broken.name} did not start; its log ends with:\n{broken.log_tail()}", 1)
        print(f"Prometheus   {prom.url}  (alerts: {prom.url}/alerts, targets: {prom.url}/targets)")
        print(f"Pushgateway  {gateway.url}  (drift: python -m drift run ... --pushgateway {gateway.url})")
        print(f"Grafana      import monitoring/grafana/aliasserve.json, Prometheus datasource at {prom.url}")
        print(f"Data and logs in {args.data_dir}/. Ctrl-C stops both.", flush=True)
        while all(server.proc.poll() is None for server in servers):
            time.sleep(0.5)
        dead = next(server for server in servers if server.proc.poll() is not None)
        return fail(f"{dead.name} exited; its log ends with:\n{dead.log_tail()}", 1)
    except KeyboardInterrupt:
        print("\nstopping Prometheus and Pushgateway", flush=True)
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
