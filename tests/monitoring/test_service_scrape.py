"""A real Prometheus scrapes the real predictor: what it reports matches the traffic the test sent."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from monitoring.metric_names import METRICS
from service.metrics import LATENCY_BUCKETS
from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.monitoring.conftest import PrometheusLauncher
from tests.monitoring.exposition import exposition_problems
from tests.monitoring.prometheus_process import wait_for_scrape
from tests.processes import RunningService


def _bodies(model: RegisteredModel) -> tuple[bytes, bytes]:
    rows = model.frame.drop(columns="target").head(2)
    good = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
    bad = json.dumps({"dataframe_records": [{"mean_radius": "x"}]}).encode()
    return good, bad


def _send(url: str, body: bytes, count: int, clients: int = 4, fresh_connections: bool = False) -> list[float]:
    """POST `body` `count` times; returns the client-side latencies. Fresh connections spread over workers."""

    def one(client: httpx.Client | None) -> float:
        started = time.perf_counter()
        if client is None:
            httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=30)
        else:
            client.post(url, content=body, headers={"Content-Type": "application/json"})
        return time.perf_counter() - started

    def batch(n: int) -> list[float]:
        if fresh_connections:
            return [one(None) for _ in range(n)]
        with httpx.Client(timeout=30) as client:
            return [one(client) for _ in range(n)]

    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        return [latency for part in pool.map(batch, shares) for latency in part]


def _sum_of(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def _value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_sees_the_requests_and_latency_sent(
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
    prometheus_launcher: PrometheusLauncher,
) -> None:
    service = start_service({"MODEL_URI": demo_model.uri, "MLFLOW_TRACKING_URI": demo_model.tracking_uri})
    assert exposition_problems(httpx.get(f"{service.url}/metrics").text) == []
    prometheus = prometheus_launcher([service.url.removeprefix("http://")])
    wait_for_scrape(prometheus)
    good, bad = _bodies(demo_model)
    # rate() needs two samples that differ: the traffic creates the series, so send it in two parts with a
    # scrape between them; however fast the machine, the second scrape then holds an increase.
    latencies = _send(f"{service.url}/invocations", good, 120)
    wait_for_scrape(prometheus, after=time.time())
    latencies += _send(f"{service.url}/invocations", good, 120)
    _send(f"{service.url}/invocations", bad, 60)
    wait_for_scrape(prometheus, after=time.time())

    ok = _value(prometheus.query('sum(http_requests_total{route="/invocations",status="200"})'))
    refused = _value(prometheus.query('sum(http_requests_total{route="/invocations",status="400"})'))
    assert (ok, refused) == (240, 60)
    assert _value(prometheus.query(f'sum(model_predictions_total{{model="{demo_model.name}"}})')) == 480
    p99 = _value(
        prometheus.query(
            'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{route="/invocations"}[1h])))'
        )
    )
    ceiling = next(b for b in LATENCY_BUCKETS if b >= max(latencies))  # the server's time is within the client's
    assert 0 < p99 <= ceiling
    served = prometheus.query("model_info")
    assert [s["metric"]["version"] for s in served] == [demo_model.version]


SHADOW_METRICS = {m.name for m in METRICS if m.name.startswith("shadow_")}


def test_two_workers_count_every_request_exactly(
    demo_model: RegisteredModel,
    start_service: Callable[..., RunningService],
    prometheus_launcher: PrometheusLauncher,
) -> None:
    service = start_service(
        {"MODEL_URI": demo_model.uri, "MLFLOW_TRACKING_URI": demo_model.tracking_uri, "WORKERS": "2"}
    )
    good, _ = _bodies(demo_model)
    _send(f"{service.url}/invocations", good, 20, fresh_connections=True)  # both workers warm
    prometheus = prometheus_launcher([service.url.removeprefix("http://")])
    _send(f"{service.url}/invocations", good, 280, fresh_connections=True)
    text = httpx.get(f"{service.url}/metrics").text
    # No SHADOW_ALIAS: the shadow's labelled series never get a value, and multiprocess mode lists none of them.
    assert exposition_problems(text, unused=SHADOW_METRICS) == []
    lines = [line for line in text.splitlines() if line.startswith("http_requests_total") and "/invocations" in line]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in lines) == 300
    # Each worker counts its model calls and folds them into the shared files at its own scrape and every
    # second (service/call_tally.py): the other worker's calls show within that.
    wait_until(
        lambda: _sum_of(httpx.get(f"{service.url}/metrics").text, "model_predictions_total") == 600,
        what="both workers' predictions in the shared files",
    )
    wait_for_scrape(prometheus, after=time.time())
    assert _value(prometheus.query('sum(http_requests_total{route="/invocations"})')) == 300
    assert _value(prometheus.query("sum(model_predictions_total)")) == 600
    assert _value(prometheus.query("sum(model_batch_rows_sum)")) == 600
    assert _value(prometheus.query("model_ready")) == 1
    assert [s["metric"]["version"] for s in prometheus.query("model_info == 1")] == [demo_model.version]
