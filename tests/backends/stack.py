"""The production-like registry for the backend tests: PostgreSQL, an S3 store (moto) and `mlflow server` on both."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.backends.pg_bin import find_pg_bin
from tests.helpers import free_port, venv_binary, wait_until
from tests.processes import ManagedProcess, MlflowServer, base_env

PG_BIN = find_pg_bin()
"""The installed server's programs (tests/backends/pg_bin.py); None when PostgreSQL is not installed."""
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def pg_bin() -> Path:
    if PG_BIN is None:
        raise RuntimeError("PostgreSQL is not installed: run .ci/system-deps")
    return PG_BIN


class PostgresCluster:
    """A throwaway cluster (`initdb` + `pg_ctl`) on a free loopback port, trust auth, durability off for speed.

    `initdb` refuses to run as root, so under root every command runs as the `postgres` system user the
    Debian package creates, in a folder of its own outside pytest's root-only temporary tree.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="aliasserve-pg-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def uri(self, database: str) -> str:
        """SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3; psycopg2 is what is installed."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres", "--encoding=UTF8")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.uri(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*self._as, str(pg_bin() / program), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{log}")


class MotoS3(ManagedProcess):
    """`moto_server` on a free loopback port: an S3 API that forgets everything when it stops."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        program = venv_binary("moto_server")  # a moto_server elsewhere on PATH may be another version
        super().__init__([program, "-H", "127.0.0.1", "-p", str(self.port)], base_env(), log_dir / "moto.log")

    @property
    def client_env(self) -> dict[str, str]:
        """What a client process needs: boto3 and pyarrow read AWS_ENDPOINT_URL, MLflow its own variable."""
        return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "MLFLOW_S3_ENDPOINT_URL": self.endpoint}

    def start(self) -> None:
        super().start()
        wait_until(lambda: httpx.get(self.endpoint, timeout=2).status_code < 500, timeout=60, what="moto S3 server")

    def client(self) -> Any:
        """A boto3 S3 client on this server (boto3 clients are untyped)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


class S3MlflowServer(MlflowServer):
    """`mlflow server` on a PostgreSQL backend store, its artifacts proxied to an S3 bucket."""

    def __init__(self, root: Path, backend_uri: str, artifacts_uri: str, extra_env: dict[str, str]) -> None:
        super().__init__(root, backend_uri=backend_uri, extra_env=extra_env)
        self.artifacts_uri = artifacts_uri
        self.args[self.args.index("--artifacts-destination") + 1] = artifacts_uri
