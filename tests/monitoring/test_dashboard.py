"""monitoring/grafana/aliasserve.json: current with its generator, well formed, and every query built on
metric and label names that exist (monitoring/metric_names.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from monitoring.grafana.build import DASHBOARD_PATH, render
from monitoring.metric_names import METRICS, series_labels
from tests.monitoring.promql import problems, references
from tests.monitoring.sources import dashboard_exprs, exprs, load_dashboard

LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


def variable(dashboard: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in dashboard["templating"]["list"] if item["name"] == name)


def test_file_is_what_the_generator_writes() -> None:
    assert DASHBOARD_PATH.read_text() == render(), "run: python -m monitoring.grafana.build"


def test_dashboard_has_datasource_and_model_variables(dashboard: dict[str, Any]) -> None:
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert variable(dashboard, "datasource")["type"] == "datasource"
    assert variable(dashboard, "datasource")["query"] == "prometheus"
    assert variable(dashboard, "model")["query"] == "label_values(model_info, model)"


def test_every_query_targets_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_every_expression_uses_known_metrics_and_labels(expr: str) -> None:
    assert problems(expr) == []


def test_variable_queries_use_known_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    queries = [item for item in dashboard["templating"]["list"] if item["type"] == "query"]
    assert queries
    for item in queries:
        match = LABEL_VALUES.match(item["query"])
        assert match, item["query"]
        selector = match.group("selector")
        assert problems(selector) == []
        (metric,) = references(selector).metrics
        assert match.group("label") in series_labels(metric)


def test_every_spec_metric_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    used = set().union(*(references(expr).metrics for expr in exprs(dashboard)))
    missing = [metric.name for metric in METRICS if not used & set(metric.series_names())]

    assert missing == []


def test_latency_panel_shows_p50_p90_p99_of_the_histogram(dashboard: dict[str, Any]) -> None:
    latency = next(panel for panel in dashboard["panels"] if panel["title"] == "Prediction latency")
    queries = [target["expr"] for target in latency["targets"]]

    assert [query.split(",")[0] for query in queries] == [f"histogram_quantile({q}" for q in ("0.5", "0.9", "0.99")]
    assert all("http_request_duration_seconds_bucket" in query for query in queries)


def test_panels_have_unique_ids_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area

    assert len({panel["id"] for panel in panels}) == len(panels)
    assert all(panel["title"] and panel["type"] for panel in panels)
