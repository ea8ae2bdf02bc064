"""The monitoring files under test, read once here: alert rules, their promtool cases, dashboard queries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from monitoring.grafana.build import DASHBOARD_PATH
from monitoring.prometheus_config import ALERTS, MONITORING_DIR

TEST_FILES = sorted(MONITORING_DIR.glob("alerts*.test.yml"))


def load_rules() -> dict[str, dict[str, Any]]:
    """alert name -> rule, from monitoring/alerts.yml."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def alert_cases() -> list[tuple[Path, str, dict[str, Any]]]:
    """(test file, test name, alert_rule_test entry) for every case in every promtool test file."""
    cases = []
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases += [(path, test["name"], case) for case in test.get("alert_rule_test", [])]
    return cases


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_PATH.read_text()))


def exprs(node: Any) -> Iterator[str]:
    """Every PromQL expression anywhere under `node`: panel targets and annotation queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr":
                yield value
            else:
                yield from exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from exprs(item)


def dashboard_exprs() -> list[str]:
    return sorted(set(exprs(load_dashboard())))
