"""The monitoring component: ServiceMonitor and PrometheusRule (no built-in schema, so checked here),
and the PrometheusRule kept identical to monitoring/alerts.yml by generate.py."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy import manifests

COMPONENT = manifests.K8S / "components" / "monitoring"
ALERTS = manifests.REPO / "monitoring" / "alerts.yml"
needs_alerts = pytest.mark.skipif(not ALERTS.exists(), reason="monitoring/alerts.yml is not written yet")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("monitoring_generate", COMPONENT / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_service_monitor_scrapes_the_predictor_service() -> None:
    resources = manifests.render("prod")
    monitor = manifests.one(resources, "ServiceMonitor")
    service = manifests.one(resources, "Service", manifests.PREDICTOR)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector
    assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"], "no endpoints"
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint.get("path", "/metrics") == "/metrics"


@needs_alerts
def test_scraped_job_label_is_the_one_the_alerts_expect() -> None:
    resources = manifests.render("prod")
    monitor = manifests.one(resources, "ServiceMonitor")
    service = manifests.one(resources, "Service", manifests.PREDICTOR)
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    expected = set(re.findall(r'\bup\{job="([^"]+)"\}', ALERTS.read_text(encoding="utf-8")))
    assert expected <= {job}, f"alerts expect job={expected}, Prometheus would scrape job={job!r}"


def test_prometheus_rule_is_well_formed() -> None:
    rule = manifests.one(manifests.render("prod"), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    assert groups
    for group in groups:
        assert group["name"]
        assert group["rules"], group["name"]
        for entry in group["rules"]:
            name = entry.get("alert") or entry.get("record")
            assert name, entry
            assert str(entry.get("expr", "")).strip(), name
            if "alert" in entry:
                assert entry["labels"]["severity"] in ("info", "warning", "critical"), name
                assert entry["annotations"]["summary"].strip(), name


def test_component_wires_the_drift_job_to_a_pushgateway() -> None:
    args = manifests.container(manifests.one(manifests.render("prod"), "CronJob", manifests.DRIFT))["args"]
    assert args[args.index("--pushgateway") + 1].startswith("http")
    for name in ("base", "dev"):
        kinds = {r["kind"] for r in manifests.render(name)}
        assert not kinds & {"ServiceMonitor", "PrometheusRule"}, f"{name}: monitoring is opt-in"


@needs_alerts
def test_committed_prometheus_rule_is_what_generate_py_makes() -> None:
    committed = (COMPONENT / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert committed == generator().render(ALERTS), (
        "k8s/components/monitoring/prometheusrule.yaml is stale: "
        "run `uv run --frozen python k8s/components/monitoring/generate.py`"
    )
    wrapped = yaml.safe_load(committed)["spec"]["groups"]
    assert wrapped == yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]


def test_generate_check_detects_a_stale_file(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.yml"
    alerts.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          up == 0\n"
        "        labels: {severity: warning}\n        annotations: {summary: s}\n"
    )
    output = tmp_path / "prometheusrule.yaml"
    module = generator()
    assert module.main(["--alerts", str(alerts), "--output", str(output)]) == 0
    assert module.main(["--alerts", str(alerts), "--output", str(output), "--check"]) == 0
    assert "expr: |\n" in output.read_text(), "PromQL should stay a readable block"
    alerts.write_text(alerts.read_text().replace("up == 0", "up == 1"))
    assert module.main(["--alerts", str(alerts), "--output", str(output), "--check"]) == 1
    alerts.write_text("not: rules\n")
    assert module.main(["--alerts", str(alerts), "--output", str(output)]) == 2
