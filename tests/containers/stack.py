"""The prod overlay's surroundings, for its containers: PostgreSQL and S3 (moto) on the host, bound to
the test network's gateway address only, and the example MLflow server (k8s/examples/mlflow-server)
in a container on them; plus the Secrets a user creates, with test values."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd

from tests.backends.stack import PG_BIN, MotoS3, PostgresCluster
from tests.containers import kubelet
from tests.containers.engine import IMAGE, MLFLOW_IMAGE, Engine, Network
from tests.deploy import manifests
from tests.drift.pushgateway import PUSHGATEWAY_BINARY
from tests.helpers import free_port, wait_until
from tests.processes import ManagedProcess, base_env

BUCKET = "aliasserve"
ARTIFACTS_BUCKET = "mlflow-artifacts"
"""The bucket of `--artifacts-destination` in the example's Deployment."""
MLFLOW_NAMES = ("mlflow", "mlflow.mlflow", "mlflow.mlflow.svc", "mlflow.mlflow.svc.cluster.local")
"""The example Service's DNS names, as in-cluster clients (the prod ConfigMap) spell them."""


class GatewayPostgres(PostgresCluster):
    """PostgreSQL listening on the host's loopback and on the test network's gateway (trust auth)."""

    def __init__(self, gateway: str) -> None:
        super().__init__()
        self.gateway = gateway

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists()

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres", "--encoding=UTF8")
        with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write(f"host all all {self.gateway}/16 trust\n")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1,{self.gateway} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")

    def uri_from_containers(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@{self.gateway}:{self.port}/{database}"


class GatewayMoto(MotoS3):
    """moto's S3 on the gateway address: the same endpoint for the test and for the containers."""

    def __init__(self, log_dir: Path, gateway: str) -> None:
        super().__init__(log_dir)
        self.port = free_port()
        self.endpoint = f"http://{gateway}:{self.port}"
        self.args[self.args.index("-H") + 1] = gateway
        self.args[self.args.index("-p") + 1] = str(self.port)

    def put_frame(self, key: str, frame: pd.DataFrame) -> str:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        self.client().put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
        return f"s3://{BUCKET}/{key}"

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def frame(self, key: str) -> pd.DataFrame:
        body = self.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return pd.read_parquet(io.BytesIO(body))


class GatewayPushgateway(ManagedProcess):
    """The Pushgateway the prod CronJob pushes to, on the gateway at the port of its `--pushgateway` URL;
    the URL's host name is mapped to the gateway in the job's containers."""

    def __init__(self, prod: list[manifests.Resource], gateway: str, log_dir: Path) -> None:
        args = manifests.container(manifests.one(prod, "CronJob", manifests.DRIFT))["args"]
        address = urlsplit(args[args.index("--pushgateway") + 1])
        assert address.hostname is not None
        self.host = address.hostname
        self.url = f"http://{gateway}:{address.port or 9091}"
        listen = f"--web.listen-address={gateway}:{address.port or 9091}"
        super().__init__([PUSHGATEWAY_BINARY, listen, "--persistence.file="], base_env(), log_dir / "pushgateway.log")

    def start(self) -> None:
        super().start()
        wait_until(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200, timeout=60, what="pushgateway"
        )

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=10).text


def secrets(s3: MotoS3, postgres: GatewayPostgres, capture_prefix: str = "capture") -> kubelet.Secrets:
    """The Secrets of the README's deploy steps and of the example server's kustomization."""
    from cryptography.fernet import Fernet

    s3_keys = {"aws-access-key-id": "testing", "aws-secret-access-key": "testing"}
    return {
        "aliasserve-secrets": {
            **s3_keys,
            "capture-uri": f"s3://{BUCKET}/{capture_prefix}",
            "retrain-data-uri": f"s3://{BUCKET}/training/labeled.parquet",
            "aws-region": "us-east-1",
            "aws-endpoint-url": s3.endpoint,
            "webhook-secret": "container-webhook-secret",
            "admin-token": "container-admin-token",
        },
        "mlflow-backend": {"uri": postgres.uri_from_containers("mlflow")},
        "mlflow-s3": {**s3_keys, "endpoint-url": s3.endpoint},
        "mlflow-webhooks": {"encryption-key": Fernet.generate_key().decode()},
    }


@dataclass
class Stack:
    """Everything the prod overlay's workloads talk to, and a way to run them."""

    engine: Engine
    network: Network
    s3: GatewayMoto
    pushgateway: GatewayPushgateway
    secrets: kubelet.Secrets
    prod: list[manifests.Resource]
    mlflow: kubelet.Pod

    @property
    def hosts(self) -> dict[str, str]:
        """Service names the prod pods resolve to the gateway (where the test runs that service)."""
        return {self.pushgateway.host: self.network.gateway}

    def pod(self, kind: str, name: str, suffix: str, **overrides: Any) -> kubelet.Pod:
        """A prod workload's container (`kind` Deployment or CronJob, `name`), run as `<session>-<suffix>`.
        `overrides` replace fields of the container (a Job made from the CronJob with another command)."""
        workload = manifests.one(self.prod, kind, name)
        if overrides:
            workload = json.loads(json.dumps(workload))
            manifests.pod_spec(workload)["containers"][0].update(overrides)
        return kubelet.start(
            self.engine,
            self.network,
            self.prod,
            workload,
            self.engine.name(suffix),
            secrets=self.secrets,
            image=IMAGE,
            hosts=self.hosts,
        )

    def job(self, suffix: str, *command: str, limit: float = 900) -> Finished:
        """A one-off Job from the drift CronJob's pod (its env, user, volumes; `command` instead of its
        own when given), waited for within its activeDeadlineSeconds; must exit 0."""
        if command:
            pod = self.pod("CronJob", manifests.DRIFT, suffix, command=list(command), args=[])
        else:
            pod = self.pod("CronJob", manifests.DRIFT, suffix)
        spec = manifests.one(self.prod, "CronJob", manifests.DRIFT)["spec"]["jobTemplate"]["spec"]
        code = pod.wait_exit(min(limit, float(spec.get("activeDeadlineSeconds", limit))))
        output = self.engine.stdout(pod.name)
        assert code == 0, f"{pod.name} exited {code}:\n{self.engine.logs(pod.name)[-4000:]}"
        return Finished(dict(json.loads(output.strip().splitlines()[-1])), pod)


@dataclass(frozen=True)
class Finished:
    """A Job that exited 0: the JSON of its last stdout line, and its container."""

    result: dict[str, Any]
    pod: kubelet.Pod


def start_mlflow(engine: Engine, network: Network, secret_values: kubelet.Secrets) -> kubelet.Pod:
    """The example tracking server, run as its Deployment says, reachable by its Service's names."""
    example = manifests.render("mlflow-server")
    deployment = manifests.one(example, "Deployment", "mlflow")
    pod = kubelet.start(
        engine,
        network,
        example,
        deployment,
        engine.name("mlflow"),
        secrets=secret_values,
        image=MLFLOW_IMAGE,
        aliases=MLFLOW_NAMES,
    )
    pod.wait_ready()
    return pod
