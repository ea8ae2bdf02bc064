"""Seconds from `set_registered_model_alias` to the first response computed by the new version (issue 3).

A real `mlflow server` (sqlite, webhooks enabled) holds two versions of a logistic regression; the
predictor follows `Production` by polling every second, or by webhook with polling off. Each flip
moves the alias to the other version and posts a row to `/invocations` in a tight loop until the
`X-Model-Version` header names it; any non-200 on the way is counted. The model's own load time is read
from the predictor's log line "serving NAME version V (was ...) after X.XXs".
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bench.models import TARGET, BenchModel, bench_frame
from bench.servers import Server, clean_env, free_port, ours
from training.train import train_and_register

log = logging.getLogger(__name__)
SERVED = re.compile(r"serving \S+ version (\S+) \(was [^)]*\) after ([\d.]+)s")
NAME = "bench-reload"


@dataclass
class Mode:
    label: str
    settings: dict[str, str]
    webhook: bool
    latencies: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    failures: int = 0
    problem: str | None = None


def mlflow_server(root: Path) -> Server:
    port = free_port()
    env = clean_env(
        MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https",
        MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true",
        MLFLOW_WEBHOOK_CACHE_TTL="1",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
    )
    args = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "mlartifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    return Server("mlflow-server", "mlflow server", args, env, port, "/health", "/", b"", root / "mlflow-server.log")


def register_two(uri: str) -> tuple[str, str]:
    frame = bench_frame()
    first = train_and_register(
        NAME, frame, TARGET, estimator=_pipeline(1.0), alias="Production", tracking_uri=uri, experiment=NAME
    )
    second = train_and_register(
        NAME, frame, TARGET, estimator=_pipeline(0.5), alias=None, tracking_uri=uri, experiment=NAME
    )
    return str(first.version), str(second.version)


def _pipeline(c: float) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=c, max_iter=1000))])


def flip_and_wait(client: MlflowClient, service: Server, http: httpx.Client, version: str, mode: Mode) -> float:
    started = time.perf_counter()
    client.set_registered_model_alias(NAME, "Production", version)
    deadline = started + 60
    while time.perf_counter() < deadline:
        response = http.post(
            service.url + "/invocations", content=service.body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 200:
            mode.failures += 1
        elif response.headers.get("x-model-version") == version:
            return time.perf_counter() - started
    raise TimeoutError(f"{mode.label}: version {version} not served 60 s after the alias moved")


def run_mode(mode: Mode, uri: str, versions: tuple[str, str], out: Path, flips: int) -> None:
    client = MlflowClient(uri)
    client.set_registered_model_alias(NAME, "Production", versions[0])
    model = BenchModel("reload", "reload", NAME, versions[0], _row())
    service = ours(model, uri, out, **mode.settings)
    service.log_path = out / "logs" / f"reload-{service.port}.log"
    webhook_id = None
    service.start()
    try:
        service.wait_ready()
        if mode.webhook:
            webhook_id = client.create_webhook(
                f"bench-{service.port}",
                url=f"{service.url}/webhooks/mlflow",
                events=["model_version_alias.created"],
                secret=mode.settings["WEBHOOK_SECRET"],
            ).webhook_id
            time.sleep(1.5)  # the server caches its webhook list for MLFLOW_WEBHOOK_CACHE_TTL (1 s)
        with httpx.Client(timeout=10) as http:
            for flip in range(flips):
                target = versions[(flip + 1) % 2]
                mode.latencies.append(flip_and_wait(client, service, http, target, mode))
                loaded = [float(s) for v, s in SERVED.findall(service.log_tail(200_000)) if v == target]
                mode.loads.append(loaded[-1] if loaded else float("nan"))
                time.sleep(random.uniform(0.3, 1.3))
    except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        mode.problem = str(exc).splitlines()[0]
    finally:
        if webhook_id is not None:
            client.delete_webhook(webhook_id)
        service.stop()


def _row() -> dict[str, float]:
    return {str(k): float(v) for k, v in bench_frame().drop(columns=[TARGET]).iloc[0].items()}


def measure_reload(out: Path, flips: int = 5) -> list[Mode]:
    root = out / "reload"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    server = mlflow_server(root)
    server.start()
    secret = secrets.token_hex(16)
    modes = [
        Mode("polling, RELOAD_INTERVAL_S=1", {"RELOAD_INTERVAL_S": "1", "MODEL_CACHE_SIZE": "1"}, webhook=False),
        Mode(
            "webhook, polling off",
            {"RELOAD_INTERVAL_S": "0", "WEBHOOK_SECRET": secret, "MODEL_CACHE_SIZE": "1"},
            webhook=True,
        ),
        Mode(
            "webhook, version still in memory (MODEL_CACHE_SIZE=2)",
            {"RELOAD_INTERVAL_S": "0", "WEBHOOK_SECRET": secret, "MODEL_CACHE_SIZE": "2"},
            webhook=True,
        ),
    ]
    try:
        server.wait_ready(timeout=120)
        versions = register_two(server.url)
        for mode in modes:
            log.info("== reload: %s", mode.label)
            run_mode(mode, server.url, versions, out, flips)
            log.info("   latencies %s, load times %s", [f"{x:.2f}" for x in mode.latencies], mode.loads)
    finally:
        server.stop()
    return modes


def reload_table(modes: list[Mode]) -> list[str]:
    lines = [
        "Seconds from `set_registered_model_alias` to the first `/invocations` answer carrying the new "
        "`X-Model-Version` (median of the flips; range in brackets), beside the load time the predictor "
        "logged (download + load + warm-up). Goal: webhook <= 0.5 s + load; polling <= interval + load.",
        "",
        "| following | flips | alias move → new version | load time | latency − load | failed requests |",
        "|---|---|---|---|---|---|",
    ]
    for mode in modes:
        if not mode.latencies:
            lines.append(f"| {mode.label} | 0 | — | — | — | {mode.problem or ''} |")
            continue
        pairs = [(lat, load) for lat, load in zip(mode.latencies, mode.loads, strict=False) if load == load]
        latency = statistics.median(mode.latencies)
        spread = f"[{min(mode.latencies):.2f}–{max(mode.latencies):.2f}]"
        load = f"{statistics.median(p[1] for p in pairs):.2f} s" if pairs else "n/a"
        rest = f"{statistics.median(p[0] - p[1] for p in pairs):.2f} s" if pairs else "n/a"
        lines.append(
            f"| {mode.label} | {len(mode.latencies)} | {latency:.2f} s {spread} | {load} | {rest} | {mode.failures} |"
        )
    lines += [f"- {m.label}: {m.problem}" for m in modes if m.problem]
    return lines
