"""The servers under test, each started pinned to CPU 0 (`taskset`) on a free loopback port.

Every server is a process tree (`mlflow models serve` keeps its CLI process beside uvicorn; MLServer runs
inference in a worker process): peak memory is the sum of VmHWM over the tree.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bench.models import BenchModel, split_body, v2_body

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SERVER_CPU = "0"


def free_port() -> int:
    """A free loopback port below Linux's ephemeral range (32768-60999).

    A port the kernel hands out for `bind(0)` can be handed out again to another process (tests run beside
    the bench) before the server binds it; MLServer then keeps running without its REST server. Below
    the ephemeral range only someone choosing a port on purpose can take it.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 20000-32000")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODEL_", "CAPTURE_", "MLSERVER"))}
    env.update({"PYTHONUNBUFFERED": "1", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})
    env.update(extra)
    return env


@dataclass
class Server:
    key: str
    label: str
    args: list[str]
    env: dict[str, str]
    port: int
    ready_path: str
    predict_path: str
    body: bytes
    log_path: Path
    cwd: Path = REPO
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.label} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def predict_once(self) -> httpx.Response:
        return httpx.post(
            self.url + self.predict_path, content=self.body, headers={"Content-Type": "application/json"}, timeout=30
        )

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def peak_rss_mib(self) -> float | None:
        """Sum of VmHWM (peak resident set) over the server's process tree, in MiB."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        return self.status_kib("VmHWM") / 1024

    def status_kib(self, field: str) -> int:
        """A `/proc/<pid>/status` figure in kB (`VmRSS`, `VmHWM`) summed over the server's process tree."""
        assert self.proc is not None
        total_kib = 0
        for pid in process_tree(self.proc.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total_kib += next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), 0)
        return total_kib

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's process tree."""
        if self.proc is None:
            return 0.0
        total = 0
        for pid in process_tree(self.proc.pid):
            try:
                total += cpu_ticks(Path(f"/proc/{pid}/stat"))
            except OSError:  # exited meanwhile
                continue
        return total / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 30.0, every: float = 0.25) -> bool:
        """Wait until the tree uses under 5% of a core over `every` seconds (a server overloaded by the last
        run keeps answering its backlog after wrk stops); False if it was still busy at `timeout`."""
        deadline = time.monotonic() + timeout
        used = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(every)
            now = self.cpu_seconds()
            if now - used < 0.05 * every:
                return True
            used = now
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


def cpu_ticks(stat: Path) -> int:
    """User + system clock ticks from a `/proc/.../stat` file (a process's or one thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def ours(
    model: BenchModel,
    tracking_uri: str,
    out: Path,
    key: str = "ours",
    label: str = "aliasserve (this project)",
    **settings: str,
) -> Server:
    port = free_port()
    env = clean_env(
        MODEL_URI=model.uri,
        MLFLOW_TRACKING_URI=tracking_uri,
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_FORMAT="text",
        CAPTURE_URI=str(out / "capture" / f"{key}-{model.key}"),
        **settings,
    )
    return Server(
        key,
        label,
        [sys.executable, "-m", "service"],
        env,
        port,
        "/health/ready",
        "/invocations",
        split_body(model),
        out / "logs" / f"{key}-{model.key}.log",
    )


def mlflow_serve(model: BenchModel, tracking_uri: str, out: Path) -> Server:
    port = free_port()
    env = clean_env(MLFLOW_TRACKING_URI=tracking_uri)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"  # it execs `uvicorn` by name
    args = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model.uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    return Server(
        "mlflow",
        "mlflow models serve",
        args,
        env,
        port,
        "/ping",
        "/invocations",
        split_body(model),
        out / "logs" / f"mlflow-{model.key}.log",
    )


def mlserver(model: BenchModel, tracking_uri: str, out: Path, python: Path, batching: bool) -> Server:
    """MLServer with the MLflow runtime on the V2 protocol (the route its adaptive batching serves)."""
    key = "mlserver-batch" if batching else "mlserver"
    folder = (out / "mlserver" / f"{key}-{model.key}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "debug": False,
        "metrics_dir": str(folder / ".metrics"),
        "environments_dir": str(folder / ".envs"),
    }
    model_settings: dict[str, object] = {
        "name": model.name,
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": model.uri},
    }
    if batching:
        model_settings.update(max_batch_size=32, max_batch_time=0.005)
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    env = clean_env(MLFLOW_TRACKING_URI=tracking_uri)
    env["PATH"] = f"{python.parent}:{env.get('PATH', '')}"
    label = "MLServer 1.7.1, adaptive batching (32, 5 ms)" if batching else "MLServer 1.7.1"
    return Server(
        key,
        label,
        [str(python.parent / "mlserver"), "start", str(folder)],
        env,
        port,
        f"/v2/models/{model.name}/ready",
        f"/v2/models/{model.name}/infer",
        v2_body(model),
        out / "logs" / f"{key}-{model.key}.log",
        cwd=folder,
    )
