"""Real processes for the tests: an `mlflow server` and the predictor, each on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent


class ManagedProcess:
    """A subprocess whose output goes to a log file, so tests can read what it said."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path = REPO) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, then SIGKILL the whole process group. Returns the exit code."""
        if self.proc is None:
            return None
        code: int | None = self.proc.poll()
        if code is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                code = self.proc.wait(timeout=10)
            except ProcessLookupError:
                code = self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODEL_", "CAPTURE_"))}
    env.update({"PYTHONUNBUFFERED": "1", "MLFLOW_ENABLE_ASYNC_LOGGING": "false"})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # as an activated venv
    env.update(extra)
    return env


class MlflowServer(ManagedProcess):
    """`mlflow server` on sqlite with local artifacts, served through the server (mlflow-artifacts:)."""

    def __init__(self, root: Path, backend_uri: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.backend_uri = backend_uri or f"sqlite:///{root / 'mlflow.db'}"
        self.artifacts_dir = root / "mlartifacts"
        args = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--artifacts-destination",
            str(self.artifacts_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        # The job runner (MLflow's background jobs) is a second busy process the tests do not need.
        env = base_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", **(extra_env or {}))
        super().__init__(args, env, root / "mlflow-server.log")

    def start(self) -> None:
        super().start()
        try:
            wait_until(self._healthy, timeout=120, interval=0.2, what=f"mlflow server on {self.uri}")
        except BaseException:  # not left running for the rest of the session (its fixture never yielded)
            self.terminate()
            raise

    def _healthy(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"mlflow server exited:\n{self.log_text()[-3000:]}")
        return httpx.get(f"{self.uri}/health", timeout=2).status_code == 200

    def stop(self) -> None:
        self.terminate()


class RunningService(ManagedProcess):
    """`python -m service` on a free port."""

    def __init__(self, env: dict[str, str], log_dir: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix="service-"))
        full_env = base_env(HOST="127.0.0.1", PORT=str(self.port), LOG_FORMAT="text", **env)
        super().__init__([sys.executable, "-m", "service"], full_env, log_dir / f"service-{self.port}.log")

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"service exited:\n{self.log_text()[-3000:]}")
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200

        wait_until(ready, timeout=timeout, interval=0.1, what=f"service ready on {self.url}")

    def wait_live(self, timeout: float = 60) -> None:
        def live() -> bool:
            if not self.alive():
                raise RuntimeError(f"service exited:\n{self.log_text()[-3000:]}")
            return httpx.get(f"{self.url}/health/live", timeout=2).status_code == 200

        wait_until(live, timeout=timeout, interval=0.1, what=f"service live on {self.url}")


@contextmanager
def serving(env: dict[str, str], log_dir: Path, wait: str = "ready") -> Iterator[RunningService]:
    """A service started for a fixture's lifetime: waited for (`ready` or `live`), stopped on the way out."""
    service = RunningService(env, log_dir=log_dir)
    service.start()
    try:
        if wait == "ready":
            service.wait_ready()
        else:
            service.wait_live()
        yield service
    finally:
        service.terminate()


class MlflowModelsServe(ManagedProcess):
    """The peer: `mlflow models serve` on the same model URI, in this environment (no conda/virtualenv)."""

    def __init__(self, model_uri: str, tracking_uri: str, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-w",
            "1",
        ]
        env = base_env(MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true")
        super().__init__(args, env, log_dir / f"mlflow-models-serve-{self.port}.log")

    def wait_ready(self, timeout: float = 180) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"mlflow models serve exited:\n{self.log_text()[-3000:]}")
            return httpx.get(f"{self.url}/ping", timeout=2).status_code == 200

        wait_until(ready, timeout=timeout, interval=0.2, what=f"mlflow models serve on {self.url}")


def webhook_delivery_env() -> dict[str, str]:
    """What an `mlflow server` needs to deliver webhooks to services on loopback or in a cluster, quickly."""
    from cryptography.fernet import Fernet

    return {
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
