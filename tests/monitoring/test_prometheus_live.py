"""A real Prometheus with the generated configuration and alerts.yml, and a real Pushgateway: the rules
load healthy, the drift job's pushed series keep job="drift" and fire the drift alert, and every dashboard
query is valid PromQL."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from tests.helpers import wait_until
from tests.monitoring.prometheus_process import (
    RunningPrometheus,
    RunningServer,
    start_prometheus,
    start_pushgateway,
    wait_for_scrape,
)
from tests.monitoring.sources import dashboard_exprs, load_rules

GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$model": "demo", "$job": ".+"}


@dataclass
class Stack:
    prometheus: RunningPrometheus
    pushgateway: RunningServer
    predictor_address: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prometheus scraping a predictor address that refuses connections and a Pushgateway. The address is a
    port bound but not listening, held for the whole module so no other process can take it meanwhile."""
    root = tmp_path_factory.mktemp("monitoring")
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        predictor = f"127.0.0.1:{refusing.getsockname()[1]}"
        pushgateway = start_pushgateway(root)
        try:
            prometheus = start_prometheus(root, [predictor], honor_labels_targets=[pushgateway.address])
        except BaseException:
            pushgateway.stop()
            raise
        yield Stack(prometheus, pushgateway, predictor)
        prometheus.stop()
        pushgateway.stop()


def alerts(prometheus: RunningPrometheus, name: str, state: str) -> list[dict[str, str]]:
    return [s["metric"] for s in prometheus.query(f'ALERTS{{alertname="{name}", alertstate="{state}"}}')]


def test_rule_group_loads_and_evaluates_healthy(stack: Stack) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = stack.prometheus.rule_groups()
        rules = [rule for group in groups for rule in group["rules"]]
        return groups if rules and all(rule["health"] != "unknown" for rule in rules) else None

    groups = wait_until(evaluated, timeout=30, what="every rule to be evaluated once")

    assert [group["name"] for group in groups] == ["aliasserve"]
    rules = groups[0]["rules"]
    assert {rule["name"] for rule in rules} == set(load_rules())
    assert [(rule["name"], rule["health"], rule.get("lastError", "")) for rule in rules if rule["health"] != "ok"] == []


def test_predictor_is_scraped_as_job_aliasserve(stack: Stack) -> None:
    (up,) = wait_for_scrape(stack.prometheus, "aliasserve", require_up=False)

    assert up["metric"] == {"__name__": "up", "job": "aliasserve", "instance": stack.predictor_address}
    assert up["value"][1] == "0"


def test_pushed_drift_keeps_job_drift_and_fires_the_drift_alert(stack: Stack) -> None:
    wait_until(
        lambda: alerts(stack.prometheus, "AliasserveDriftJobNeverRan", "pending"),
        timeout=30,
        what="the never-ran alert to be pending before any push",
    )
    registry = CollectorRegistry()
    Gauge("drift_detected", "", ["version"], registry=registry).labels(version="3").set(1)
    Gauge("drift_last_run_timestamp_seconds", "", registry=registry).set(time.time())
    push_to_gateway(stack.pushgateway.url, job="drift", registry=registry, grouping_key={"model": "demo"})

    firing = wait_until(
        lambda: alerts(stack.prometheus, "AliasserveDriftDetected", "firing"),
        timeout=30,
        what="AliasserveDriftDetected to fire",
    )

    assert firing == [
        {
            "__name__": "ALERTS",
            "alertname": "AliasserveDriftDetected",
            "alertstate": "firing",
            "job": "drift",
            "model": "demo",
            "version": "3",
            "severity": "warning",
        }
    ]
    wait_until(
        lambda: not alerts(stack.prometheus, "AliasserveDriftJobNeverRan", "pending"),
        timeout=30,
        what="the never-ran alert to clear once a run was pushed",
    )
    assert alerts(stack.prometheus, "AliasserveDriftJobStale", "pending") == []


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_dashboard_queries_are_valid_promql(stack: Stack, expr: str) -> None:
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])

    assert isinstance(stack.prometheus.query(expr), list)
