"""Small factories for Grafana (schemaVersion 39) panel JSON, so the dashboard reads as a list of panels."""

from __future__ import annotations

from typing import Any

Panel = dict[str, Any]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
JOB = 'job=~"$job"'
PREDICT = f'{JOB}, route=~"/invocations|/v2/models/.+/infer"'
MODEL = 'model=~"$model"'
"""The models picked in the `$model` variable (several, or All)."""
RATE = "[$__rate_interval]"


def target(expr: str, legend: str = "", *, heatmap: bool = False, instant: bool = False) -> dict[str, Any]:
    """A Prometheus query; refIds are assigned by `panel`."""
    query: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend or "__auto"}
    if heatmap:
        query["format"] = "heatmap"
    query["range"], query["instant"] = (False, True) if instant else (True, False)
    return query


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    defaults: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> Panel:
    """A panel without position: `layout` gives ids and grid positions."""
    for index, query in enumerate(targets):
        query["refId"] = chr(ord("A") + index)
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})}, "overrides": []},
        "options": options or {},
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
    }


def timeseries(title: str, description: str, targets: list[dict[str, Any]], **kwargs: Any) -> Panel:
    """Lines over time; pass `log_scale=True` for p-values, `bars=True` for counts per interval, and
    `limit=4` to draw a red line where a limit is reached."""
    log_scale, bars, limit = kwargs.pop("log_scale", False), kwargs.pop("bars", False), kwargs.pop("limit", None)
    custom: dict[str, Any] = {"drawStyle": "bars" if bars else "line", "fillOpacity": 10, "showPoints": "never"}
    if log_scale:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    defaults = {"custom": custom, **kwargs.pop("defaults", {})}
    if limit is not None:
        custom["thresholdsStyle"] = {"mode": "line"}
        defaults["thresholds"] = thresholds((None, "green"), (limit, "red"))
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, description, targets, defaults=defaults, options=options, **kwargs)


def state_timeline(title: str, description: str, targets: list[dict[str, Any]], **kwargs: Any) -> Panel:
    """One coloured band per series over time (which version was served when)."""
    defaults = {"custom": {"fillOpacity": 80, "lineWidth": 0}, "color": {"mode": "palette-classic"}}
    options = {
        "showValue": "auto",
        "mergeValues": True,
        "rowHeight": 0.9,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
    }
    return panel("state-timeline", title, description, targets, defaults=defaults, options=options, **kwargs)


def heatmap(title: str, description: str, targets: list[dict[str, Any]], **kwargs: Any) -> Panel:
    """Histogram buckets over time, as Prometheus gives them (`target(..., heatmap=True)`, legend `{{le}}`)."""
    options = {
        "calculate": False,
        "cellGap": 1,
        "yAxis": {"axisPlacement": "left"},
        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
        "tooltip": {"show": True, "yHistogram": True},
        "legend": {"show": True},
    }
    return panel("heatmap", title, description, targets, options=options, **kwargs)


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    """Colour steps: (None, base colour) first, then (value, colour) from that value up."""
    return {"mode": "absolute", "steps": [{"value": value, "color": color} for value, color in steps]}


def stat(title: str, description: str, targets: list[dict[str, Any]], **kwargs: Any) -> Panel:
    """One big number (the last value), coloured by `thresholds`, with optional value `mappings`."""
    defaults: dict[str, Any] = {"mappings": kwargs.pop("mappings", [])}
    if "thresholds" in kwargs:
        defaults["thresholds"] = kwargs.pop("thresholds")
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": "auto",
    }
    kwargs.setdefault("height", 5)
    return panel("stat", title, description, targets, defaults=defaults, options=options, **kwargs)


def value_text(mapping: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """A value mapping: {"1": ("drift", "red")} shows 1 as a red "drift"."""
    options = {
        value: {"text": text, "color": color, "index": i} for i, (value, (text, color)) in enumerate(mapping.items())
    }
    return [{"type": "value", "options": options}]


def row(title: str) -> Panel:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0},
    }


def layout(panels: list[Panel]) -> list[Panel]:
    """Number the panels and place them left to right, wrapping at Grafana's 24 columns."""
    x = y = row_height = 0
    for panel_id, item in enumerate(panels, start=1):
        grid = item["gridPos"]
        if item["type"] == "row" or x + grid["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        item["id"] = panel_id
        x, row_height = x + grid["w"], max(row_height, grid["h"])
        if item["type"] == "row":
            x, y, row_height = 0, y + 1, 0
    return panels


def quantiles(metric: str, selector: str, by: str = "", qs: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[Any]:
    """histogram_quantile targets of `metric`, one per quantile, legend `p50` (or `{{model}} {{version}} p50`)."""
    group = f"{by}, le" if by else "le"
    legend = "".join(f"{{{{{label.strip()}}}}} " for label in by.split(",") if label.strip())
    return [
        target(
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{selector}}}{RATE})))",
            f"{legend}p{round(q * 100)}",
        )
        for q in qs
    ]
