"""The PromQL reference extractor the dashboard and alert checks rely on: it must find every name, and
nothing that is not one."""

from __future__ import annotations

import pytest

from tests.monitoring.promql import problems, references


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        ("up", {"up"}),
        ('histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{route="/x"}[5m]))) > 0.5', {"a_bucket"}),
        ("sum(rate(x_total[5m])) by (le) / ignoring(status) group_left(version) y", {"x_total", "y"}),
        ('rate(x{route=~"/v2/models/{name}/infer"}[$__rate_interval])', {"x"}),
        ("time() - drift_last_run_timestamp_seconds > 2 * 86400", {"drift_last_run_timestamp_seconds"}),
        ("1e3 * a offset 5m + b @ 1700000000 and on() c unless d or e == bool 1", {"a", "b", "c", "d", "e"}),
        ("absent(x) and Inf > NaN", {"x"}),
        ('{__name__="via_name", job="j"}', {"via_name"}),
        ('max(m{model="$model", job=~"${job}"}) - m:recorded:rate5m', {"m", "m:recorded:rate5m"}),
    ],
)
def test_references_find_exactly_the_metric_names(expr: str, metrics: set[str]) -> None:
    assert references(expr).metrics == metrics


def test_references_collect_matchers_and_grouping_labels() -> None:
    refs = references('sum by (route, status) (rate(http_requests_total{job=~"a", status!="200"}[1m]))')

    assert refs.selectors == [("http_requests_total", frozenset({"job", "status"}))]
    assert refs.grouping_labels == {"route", "status"}


def test_problems_accepts_a_correct_query() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, version) (rate(model_inference_duration_seconds_bucket{model="m"}[5m])))'
    )

    assert problems(expr) == []


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        ("rate(http_request_total[5m])", "unknown metric 'http_request_total'"),
        ("model_inference_duration_seconds", "unknown metric 'model_inference_duration_seconds'"),
        ('model_batch_rows_count{version="1"}', "model_batch_rows_count has no label(s) ['version']"),
        ('model_batch_rows_sum{le="1"}', "model_batch_rows_sum has no label(s) ['le']"),
        ("sum by (route) (model_predictions_total)", "no metric here has label 'route'"),
    ],
)
def test_problems_names_the_mistake(expr: str, complaint: str) -> None:
    assert complaint in problems(expr)
