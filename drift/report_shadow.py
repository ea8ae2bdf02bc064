"""The drift report's section "Where production and challenger disagree" (capture rows with shadow output)."""

from __future__ import annotations

from html import escape

from drift.disagreement import MIN_RANGE_ROWS, FeatureDisagreement, Range, ShadowReport
from drift.plots import disagreement_svg

TITLE = "Where production and challenger disagree"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _table(ranges: list[Range]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("feature", "range", "rows", "disagreeing", "disagreement rate"))
    rows = "".join(
        f"<tr><td>{escape(r.feature)}</td><td>{escape(r.label)}</td><td>{r.rows:,}</td>"
        f"<td>{r.disagreeing:,}</td><td>{r.rate:.1%}</td></tr>"
        for r in ranges
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def _short(label: str) -> str:
    """A numeric range by its lower edge (the ranges are contiguous and in order); categories as they are."""
    return f"≥ {label[1:].split(', ', maxsplit=1)[0]}" if label.startswith("[") else label


def _plot(feature: FeatureDisagreement, overall: float) -> str:
    labels, rates = [r.label for r in feature.ranges], [r.rate for r in feature.ranges]
    axis = [_short(label) if feature.kind == "numeric" else label for label in labels]
    svg = disagreement_svg(labels, rates, overall, title=feature.name, axis=axis)
    caption = f"<b>{escape(feature.name)}</b> highest {feature.worst:.1%} (dashed: overall {overall:.1%})"
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def shadow_section(report: ShadowReport) -> list[str]:
    """The section's HTML parts: agreement, every shadow version's counts, the worst ranges, one plot a feature."""
    counts = report.counts
    overall = 1.0 - (counts.agreement or 0.0) if counts.compared else 0.0
    versions = ", ".join(
        f"{escape(v)}: {c.shadowed:,} shadowed, agreement {_share(c.agreement)}, errors {c.errors:,}, "
        f"dropped {c.dropped:,}"
        for v, c in report.versions.items()
    )
    production = ", ".join(map(escape, report.production_versions)) or "-"
    parts = [
        f"<h2>{TITLE}</h2>",
        f"<p>Challenger (shadow) version {escape(report.shadow_version)} against production version(s) "
        f"{production}: agreement <b>{_share(counts.agreement)}</b> over {counts.compared:,} compared rows; "
        f"error rate {_share(counts.error_rate)}; {counts.dropped:,} rows dropped unscored.</p>",
        f"<p>Shadow versions in the window: {versions}.</p>",
    ]
    top = report.top_ranges()
    if top:
        parts += [
            f"<h3>Ranges with the highest disagreement (at least {MIN_RANGE_ROWS} rows)</h3>",
            _table(top),
        ]
    else:
        parts.append("<p>No input range disagrees.</p>")
    ordered = sorted(report.features, key=lambda f: (-f.worst, f.name))
    parts += ["<h3>Disagreement rate by input range</h3>", "<div class='plots'>", *(_plot(f, overall) for f in ordered)]
    parts.append("</div>")
    return parts
