"""The `/metrics` checker the service tests can use: a page built to SPEC passes, mistakes are named."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitoring.metric_names import METRICS, Metric
from tests.monitoring.exposition import exposition_problems

KINDS = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


def spec_page(*, skip: str = "", relabel: tuple[str, str, str] | None = None, as_gauge: str = "") -> str:
    """An exposition page from prometheus-client with every predictor metric, each with one sample."""
    registry = CollectorRegistry()
    for metric in (m for m in METRICS if m.source == "predictor" and m.name != skip):
        labels = list(metric.labels)
        if relabel and relabel[0] == metric.name:
            labels = [relabel[2] if label == relabel[1] else label for label in labels]
        kind = Gauge if metric.name == as_gauge else KINDS[metric.type]
        collector = kind(metric.name, metric.help, labels, registry=registry)
        child = collector.labels(*("x" for _ in labels)) if labels else collector
        record(child, kind)
    return generate_latest(registry).decode()


def record(child: object, kind: type) -> None:
    if kind is Histogram:
        child.observe(0.2)  # type: ignore[attr-defined]
    elif kind is Counter:
        child.inc()  # type: ignore[attr-defined]
    else:
        child.set(1)  # type: ignore[attr-defined]


def test_a_page_built_to_spec_passes() -> None:
    assert exposition_problems(spec_page()) == []


def test_a_missing_metric_is_named() -> None:
    assert exposition_problems(spec_page(skip="model_ready")) == ["model_ready: missing"]


def test_only_a_labelled_metric_may_be_unused() -> None:
    assert exposition_problems(spec_page(skip="model_predictions_total"), unused={"model_predictions_total"}) == []
    assert exposition_problems(spec_page(skip="http_requests_in_flight"), unused={"http_requests_in_flight"}) == [
        "http_requests_in_flight: missing"
    ]


def test_a_wrong_label_is_named() -> None:
    problems = exposition_problems(spec_page(relabel=("http_requests_total", "status", "code")))

    assert problems == [
        "http_requests_total: labels ['code', 'method', 'route'], SPEC says ['method', 'route', 'status']"
    ]


def test_a_wrong_type_is_named() -> None:
    assert exposition_problems(spec_page(as_gauge="model_predictions_total")) == [
        "model_predictions_total: type gauge, SPEC says counter"
    ]
    assert exposition_problems(spec_page(as_gauge="model_batch_rows")) == [
        "model_batch_rows: type gauge, SPEC says histogram"
    ]


def test_every_spec_metric_name_follows_prometheus_conventions() -> None:
    def conventional(metric: Metric) -> bool:
        return (metric.type == "counter") == metric.name.endswith("_total") or metric.name == "up"

    assert [m.name for m in METRICS if not conventional(m)] == []
