"""The drift report: `drift_report.json` (the result object) and one self-contained `drift_report.html`.

The HTML page holds the verdict, the settings, the table of tests and a reference-vs-current plot per
feature (drifted ones first), inline SVG so the single file can be opened from MLflow's UI.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from drift.plots import CURRENT_COLOR, REFERENCE_COLOR, distribution_svg
from drift.report_shadow import shadow_section
from drift.result import DriftResult, result_json
from drift.verdict import FeatureVerdict

JSON_NAME = "drift_report.json"
HTML_NAME = "drift_report.html"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}tr.drifted{background:#fde2e1}
.plots{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;border:1px solid #eee;font-size:12px}
.verdict{font-size:1.3rem;font-weight:600}
"""

_KEY = (
    f'<p><span style="color:{REFERENCE_COLOR}">■ reference</span> '
    f'<span style="color:{CURRENT_COLOR}">■ current</span> '
    "(numeric: density from the lower 0.5% to the higher 99.5% quantile of the two, tails in the end bins; "
    "categorical: share of rows)</p>"
)


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"


def _row(verdict: FeatureVerdict) -> str:
    c = verdict.comparison
    missing = c.missing
    cells = [
        escape(c.name),
        c.kind,
        c.distribution.test,
        _number(c.distribution.statistic),
        _number(c.distribution.p_value),
        _number(verdict.p_value_corrected),
        _number(c.distribution.distance),
        f"{c.reference_missing_share:.2%} → {c.current_missing_share:.2%}",
        _number(verdict.missing_p_value_corrected) if missing is not None else "-",
        "yes" if verdict.drifted else "no",
    ]
    return f'<tr class="{"drifted" if verdict.drifted else ""}">' + "".join(f"<td>{x}</td>" for x in cells) + "</tr>"


def _table(verdicts: list[FeatureVerdict]) -> str:
    head = [
        "feature",
        "kind",
        "test",
        "statistic",
        "p",
        "p corrected",
        "distance",
        "missing share",
        "missing p corrected",
        "drifted",
    ]
    rows = "".join(_row(v) for v in sorted(verdicts, key=lambda v: (not v.drifted, v.name)))
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + f"</tr>{rows}</table>"


def _plot(verdict: FeatureVerdict) -> str:
    c = verdict.comparison
    statistic, corrected = _number(c.distribution.statistic, 3), _number(verdict.p_value_corrected, 3)
    caption = f"<b>{escape(c.name)}</b> {c.distribution.test} {statistic}, p corr. {corrected}"
    if verdict.drifted:
        caption += " <b>drift</b>"
    svg = distribution_svg(c.sketch, title=c.name)
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def render_html(result: DriftResult) -> str:
    """The whole report page as one string."""
    verdict = {True: "drift detected", False: "no drift", None: "insufficient data"}[result.drift_detected]
    window = result.window
    t = result.thresholds
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Drift report {escape(result.model)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Drift report: {escape(result.model)} version {escape(result.model_version)}</h1>",
        f'<p class="verdict">{verdict}</p>',
        f"<p>Window {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC ({escape(result.window_length)}); "
        f"reference rows {result.reference_rows:,}, current rows {result.current_rows:,} "
        f"(of {result.window_rows:,} in the window, minimum {result.min_rows:,}); corrupt files skipped "
        f"{len(result.corrupt_files)}.</p>",
        f"<p>alpha {t.alpha}, correction {t.correction}, KS floor {t.ks_min_statistic}, "
        f"distance floor {t.min_distance}. Drifted: {', '.join(map(escape, result.drifted_features)) or 'none'}.</p>",
    ]
    if result.features:
        parts += ["<h2>Features</h2>", _table(result.features), "<h2>Distributions</h2>", _KEY, "<div class='plots'>"]
        ordered = sorted(result.features, key=lambda v: (not v.drifted, v.name))
        parts += [_plot(v) for v in ordered]
        parts.append("</div>")
    parts.append("<h2>Prediction</h2>")
    counted = "counted in the verdict" if result.include_prediction else "reported only (see --include-prediction)"
    if result.prediction is not None:
        parts += [f"<p>{counted}</p>", _table([result.prediction]), _plot(result.prediction)]
    else:
        parts.append(f"<p>{escape(result.prediction_note or 'not compared')}</p>")
    if result.shadow is not None:
        parts += shadow_section(result.shadow)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(result: DriftResult, folder: Path) -> tuple[Path, Path]:
    """Write both report files into `folder`; returns their paths (JSON, HTML)."""
    json_path, html_path = folder / JSON_NAME, folder / HTML_NAME
    json_path.write_text(json.dumps(result_json(result), indent=2, allow_nan=False) + "\n")
    html_path.write_text(render_html(result), encoding="utf-8")
    return json_path, html_path
