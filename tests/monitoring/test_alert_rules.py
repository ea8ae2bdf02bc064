"""monitoring/alerts.yml: valid for promtool, unit-tested case by case, and built on SPEC's metric names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.prometheus_config import ALERTS
from tests.monitoring.prometheus_process import require_binary
from tests.monitoring.promql import problems
from tests.monitoring.sources import TEST_FILES, alert_cases, load_rules


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_rules_file() -> None:
    result = promtool("check", "rules", str(ALERTS))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = promtool("test", "rules", str(test_file))

    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_unit_test_files() -> None:
    assert [path.name for path in TEST_FILES] == [
        "alerts.capture.test.yml",
        "alerts.drift.test.yml",
        "alerts.model-calls.test.yml",
        "alerts.shadow.test.yml",
        "alerts.test.yml",
    ]


def test_every_alert_has_a_firing_case_and_a_quiet_case() -> None:
    firing = {case["alertname"] for _, _, case in alert_cases() if case.get("exp_alerts")}
    quiet = {case["alertname"] for _, _, case in alert_cases() if not case.get("exp_alerts")}

    assert sorted(set(load_rules()) - firing) == [], "alerts without a case where they fire"
    assert sorted(set(load_rules()) - quiet) == [], "alerts without a case where they stay quiet"


def test_unit_tests_name_only_existing_alerts() -> None:
    """A misspelt alertname would make an `exp_alerts: []` case pass without testing anything."""
    named = {case["alertname"] for _, _, case in alert_cases()}

    assert sorted(named - set(load_rules())) == []


def test_firing_cases_assert_severity_and_every_annotation() -> None:
    rules = load_rules()
    for path, name, case in alert_cases():
        rule = rules[case["alertname"]]
        for expected in case.get("exp_alerts") or []:
            where = f"{path.name} / {name} / {case['alertname']}"
            assert expected["exp_labels"]["severity"] == rule["labels"]["severity"], where
            assert set(expected["exp_annotations"]) == set(rule["annotations"]), where


@pytest.mark.parametrize("alert", sorted(load_rules()))
def test_every_alert_is_documented_and_routed(alert: str) -> None:
    rule = load_rules()[alert]
    header = ALERTS.read_text().split("groups:")[0]

    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert {"summary", "description", "runbook"} <= set(rule["annotations"])
    assert all(str(text).strip() for text in rule["annotations"].values())
    assert alert in header, "every alert and its threshold is listed at the top of alerts.yml"


@pytest.mark.parametrize("alert", sorted(load_rules()))
def test_alert_expressions_use_only_spec_metrics(alert: str) -> None:
    assert problems(load_rules()[alert]["expr"]) == []


def test_unit_test_series_use_only_spec_metrics() -> None:
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for series in test["input_series"]:
                assert problems(series["series"]) == [], f"{path.name} / {test['name']}: {series['series']}"


def test_a_missing_tool_skips_loudly_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="SKIPPED LOUDLY: aliasserve-no-such-tool is not installed"):
        require_binary("aliasserve-no-such-tool")

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make monitoring-tools"):
        require_binary("aliasserve-no-such-tool")
