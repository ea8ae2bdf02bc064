"""Hold a real `/metrics` page (or a Pushgateway's) to monitoring/metric_names.py.

assert exposition_problems(httpx.get(f"{service.url}/metrics").text, source="predictor") == []
"""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client.parser import text_string_to_metric_families

from monitoring.metric_names import METRICS, Metric, Source

_SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
EXTRA_LABELS = frozenset({"job", "instance"})
"""Labels a Pushgateway page adds to pushed series (the grouping key)."""


def family_name(metric: Metric) -> str:
    """The name prometheus-client's parser gives the family: counters lose their `_total`."""
    return metric.name.removesuffix("_total") if metric.type == "counter" else metric.name


def exposition_problems(text: str, source: Source = "predictor", *, unused: Collection[str] = ()) -> list[str]:
    """Every SPEC metric of `source` must be on the page with its type, and its samples must carry exactly
    the SPEC labels (plus `le` on buckets, plus job/instance on a Pushgateway page).

    `unused` names labelled metrics that may be absent because nothing has happened to them yet: in
    prometheus-client's multiprocess mode a labelled metric is listed only once a label set has a value.
    """
    families = {family.name: family for family in text_string_to_metric_families(text)}
    issues = []
    for metric in (m for m in METRICS if m.source == source):
        family = families.get(family_name(metric)) or families.get(metric.name)
        if family is None:
            if not (metric.name in unused and metric.labels):
                issues.append(f"{metric.name}: missing")
            continue
        if family.type != metric.type:
            issues.append(f"{metric.name}: type {family.type}, SPEC says {metric.type}")
        for sample in family.samples:
            expected = set(metric.labels)
            if sample.name.endswith("_bucket"):
                expected.add("le")
            labels = set(sample.labels) - EXTRA_LABELS
            if sample.name.endswith("_created") or labels == expected:
                continue
            issues.append(f"{sample.name}: labels {sorted(labels)}, SPEC says {sorted(expected)}")
            break
        names_ok = all(
            sample.name == metric.name
            or sample.name.removeprefix(metric.name.removesuffix("_total")) in _SAMPLE_SUFFIXES.get(metric.type, ())
            for sample in family.samples
        )
        if not names_ok:
            issues.append(f"{metric.name}: unexpected sample names {sorted({s.name for s in family.samples})}")
    return issues
