"""WORKERS=2: ready only when both workers serve, `/model` shows each, and after an alias move a real
Prometheus scraping the multiprocess metrics sees only the version serving now."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.monitoring.conftest import PrometheusLauncher
from tests.monitoring.prometheus_process import wait_for_scrape
from tests.processes import MlflowServer, RunningService
from tests.service.test_following import register_versions

REQUESTS = 200


def _workers(service: RunningService) -> list[dict[str, Any]]:
    workers: list[dict[str, Any]] = httpx.get(f"{service.url}/model", timeout=10).json()["workers"]
    return workers


def test_two_workers_serve_from_ready_and_report_only_the_version_serving_now(
    mlflow_server: MlflowServer,
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
    prometheus_launcher: PrometheusLauncher,
) -> None:
    v = register_versions(mlflow_server, demo_model, 2)
    service = start_service(
        {"MODEL_URI": v.uri, "MLFLOW_TRACKING_URI": mlflow_server.uri, "WORKERS": "2", "RELOAD_INTERVAL_S": "0.5"}
    )

    def predict(_: int) -> int:  # a fresh connection each: the kernel spreads them over both workers
        response = httpx.post(
            f"{service.url}/invocations", content=v.body, headers={"Content-Type": "application/json"}, timeout=60
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(predict, range(REQUESTS)))
    assert statuses == [200] * REQUESTS, {s: statuses.count(s) for s in set(statuses)}
    workers = _workers(service)
    assert [(w["ready"], w["version"]) for w in workers] == [(True, v.versions[0])] * 2, workers
    assert len({w["pid"] for w in workers}) == 2

    prometheus = prometheus_launcher([service.url.removeprefix("http://")])
    wait_for_scrape(prometheus)
    assert [s["metric"]["version"] for s in prometheus.query("count by (version) (model_info)")] == [v.versions[0]]
    v.move(v.versions[1])
    wait_until(
        lambda: [w["version"] for w in _workers(service)] == [v.versions[1]] * 2,
        timeout=120,
        what="both workers to serve the new version",
    )
    wait_for_scrape(prometheus, after=time.time())

    by_version = prometheus.query("count by (version) (model_info)")
    assert [(s["metric"]["version"], s["value"][1]) for s in by_version] == [(v.versions[1], "1")]
    assert [s["metric"]["version"] for s in prometheus.query("model_info")] == [v.versions[1]]
    assert prometheus.query("model_ready")[0]["value"][1] == "1"
