"""The aliasserve Grafana dashboard, written as code: `python -m monitoring.grafana.build` rewrites
`monitoring/grafana/aliasserve.json` (a test checks the file is up to date with this module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitoring.grafana.drift import drift_panels
from monitoring.grafana.models import models_panels
from monitoring.grafana.panels import DATASOURCE, JOB, MODEL, layout
from monitoring.grafana.predictor import model_panels, traffic_panels
from monitoring.grafana.shadow import shadow_panels

DASHBOARD_PATH = Path(__file__).resolve().parent / "aliasserve.json"


def variables() -> list[dict[str, Any]]:
    def query(name: str, label: str, expr: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DATASOURCE,
            "definition": expr,
            "query": expr,
            "refresh": 2,
            "sort": 1,
            "hide": 0,
            "regex": "",
            "current": {},
            "options": [],
            "includeAll": False,
            "multi": False,
            **extra,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "refresh": 1,
            "hide": 0,
            "regex": "",
            "current": {},
            "options": [],
        },
        query("model", "Model", "label_values(model_info, model)", includeAll=True, multi=True, allValue=".+"),
        query(
            "job", "Job", 'label_values(model_info{model=~"$model"}, job)', includeAll=True, multi=True, allValue=".+"
        ),
    ]


def dashboard_annotations() -> list[dict[str, Any]]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    reload = {
        "name": "Version loaded",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "blue",
        "expr": f"changes(model_last_reload_timestamp_seconds{{{JOB}, {MODEL}}}[2m]) > 0",
        "step": "1m",
        "titleFormat": "{{model}}: version loaded",
        "textFormat": "{{instance}}",
    }
    return [builtin, reload]


def build_dashboard() -> dict[str, Any]:
    return {
        "uid": "aliasserve",
        "title": "aliasserve",
        "tags": ["aliasserve", "mlflow", "drift"],
        "description": "The aliasserve predictor (traffic, served version, batching, capture) and its drift job.",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "links": [],
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "templating": {"list": variables()},
        "annotations": {"list": dashboard_annotations()},
        "panels": layout([*traffic_panels(), *models_panels(), *model_panels(), *shadow_panels(), *drift_panels()]),
    }


def render() -> str:
    return json.dumps(build_dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    DASHBOARD_PATH.write_text(render())
    print(f"wrote {DASHBOARD_PATH}")
