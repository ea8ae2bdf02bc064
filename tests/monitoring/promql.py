"""What a PromQL expression refers to: metric names, the labels it matches on, the labels it groups by.

Not a parser: a sequence of careful regular expressions that is enough for the queries this project
writes (selectors, functions, aggregations with by/without, vector matching, offsets, Grafana variables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitoring.metric_names import TARGET_LABELS, by_series_name, series_labels

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{?\w+(?::\w+)?\}?")
_RANGE = re.compile(r"\[[^\]]*\]")
_MODIFIER = re.compile(r"(?:\boffset|@)\s*-?[\w.()]+")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_SELECTOR = re.compile(r"(?<![\w:.])([a-zA-Z_:][\w:]*)?\s*\{([^{}]*)\}")
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([a-zA-Z_:][\w:]*)"\s*,?')
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_IDENTIFIER = re.compile(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?")
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"inf", "nan"}
)


@dataclass
class References:
    metrics: set[str] = field(default_factory=set)
    selectors: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    """(metric name, label names matched on) for each selector with braces."""
    grouping_labels: set[str] = field(default_factory=set)


def references(expr: str) -> References:
    found = References()
    found.metrics.update(_NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', _NAME_MATCHER.sub("", expr))
    text = _GRAFANA_VARIABLE.sub("", text)
    text = _RANGE.sub("", text)
    text = _MODIFIER.sub("", text)

    def grouping(match: re.Match[str]) -> str:
        found.grouping_labels.update(label.strip() for label in match.group(2).split(",") if label.strip())
        return " "

    text = _GROUPING.sub(grouping, text)

    def selector(match: re.Match[str]) -> str:
        labels = set(_MATCHER.findall(match.group(2)))
        name = match.group(1) or ("__name__" if "__name__" in labels else "")
        labels.discard("__name__")
        if name:
            found.selectors.append((name, frozenset(labels)))
        return f" {name} "

    text = _SELECTOR.sub(selector, text)
    for name, call in _IDENTIFIER.findall(text):
        if not call and name.lower() not in KEYWORDS:
            found.metrics.add(name)
    return found


def problems(expr: str) -> list[str]:
    """Why `expr` does not fit monitoring/metric_names.py: unknown metric names or label names."""
    refs = references(expr)
    known = by_series_name()
    issues = [f"unknown metric {name!r}" for name in sorted(refs.metrics - set(known))]
    for name, labels in refs.selectors:
        if name in known and not labels <= series_labels(name):
            issues.append(f"{name} has no label(s) {sorted(labels - series_labels(name))}")
    available = set(TARGET_LABELS).union(*(series_labels(name) for name in refs.metrics if name in known))
    issues += [f"no metric here has label {label!r}" for label in sorted(refs.grouping_labels - available)]
    return issues
