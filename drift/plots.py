"""Reference-vs-current distribution plots as inline SVG, for the self-contained HTML report.

The tests already computed the bins and shares (`drift.sketch`); they are drawn as two polygons or a
few rectangles. No plotting library is imported (matplotlib cost the job about a second to import and
a second more to render thirty small PNGs), the page stays one file with nothing to fetch, and each
plot is about 2 kB.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
from numpy.typing import NDArray

from drift.sketch import Sketch

REFERENCE_COLOR = "#4c72b0"
CURRENT_COLOR = "#dd8452"
WIDTH, HEIGHT = 300, 165
LEFT, RIGHT, TOP, BOTTOM = 6, 294, 6, 118
"""The plotting area inside the picture; below it the x-axis labels (category names slanted)."""
LABEL_CHARS = 14


def _ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) between low and high, at most `most` of them."""
    span = high - low
    step = 10.0 ** math.floor(math.log10(span / most)) if span > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= most:
            step *= factor
            break
    first = math.ceil(low / step) * step
    digits = max(0, 1 - math.floor(math.log10(step)))  # no 5.55e-17 for zero, no -0
    return [round(first + i * step, digits) + 0.0 for i in range(int((high - first) / step + 1e-9) + 1)]


def _x(value: float, low: float, high: float) -> float:
    return LEFT + (value - low) / (high - low) * (RIGHT - LEFT)


def _y(share: float, top: float) -> float:
    return BOTTOM - (share / top) * (BOTTOM - TOP) if top > 0 else BOTTOM


def _stairs(heights: NDArray[np.float64], edges: NDArray[np.float64], top: float, color: str) -> str:
    """A filled step outline of a histogram."""
    low, high = float(edges[0]), float(edges[-1])
    points = [f"{_x(low, low, high):.1f},{BOTTOM}"]
    for height, left, right in zip(heights, edges[:-1], edges[1:], strict=True):
        y = _y(float(height), top)
        points.append(f"{_x(float(left), low, high):.1f},{y:.1f} {_x(float(right), low, high):.1f},{y:.1f}")
    points.append(f"{_x(high, low, high):.1f},{BOTTOM}")
    return f'<polygon points="{" ".join(points)}" fill="{color}" fill-opacity="0.45" stroke="{color}"/>'


def _label(x: float, text: str, rotate: bool = False) -> str:
    if rotate:
        return (
            f'<text x="{x:.1f}" y="{BOTTOM + 8}" transform="rotate(-30 {x:.1f} {BOTTOM + 8})" '
            f'text-anchor="end">{escape(text)}</text>'
        )
    return f'<text x="{x:.1f}" y="{BOTTOM + 13}" text-anchor="middle">{escape(text)}</text>'


def _numeric(sketch: Sketch) -> list[str]:
    edges = sketch.edges
    low, high = float(edges[0]), float(edges[-1])
    sides = [(sketch.reference, REFERENCE_COLOR), (sketch.current, CURRENT_COLOR)]
    top = max((float(density.max()) for density, _ in sides if density.size), default=0.0)
    parts = [_stairs(density, edges, top, color) for density, color in sides if density.size]
    parts += [_label(_x(t, low, high), f"{t:.4g}") for t in _ticks(low, high, 5)]
    return parts


def _categorical(sketch: Sketch) -> list[str]:
    slot = (RIGHT - LEFT) / max(len(sketch.labels), 1)
    sides = [(sketch.reference, REFERENCE_COLOR), (sketch.current, CURRENT_COLOR)]
    top = max((float(shares.max()) for shares, _ in sides if shares.size), default=0.0)
    parts = []
    for index, label in enumerate(sketch.labels):
        start = LEFT + index * slot
        for offset, (shares, color) in enumerate(sides):
            if shares.size:
                y = _y(float(shares[index]), top)
                x = start + slot * (0.1 + 0.4 * offset)
                size = f'width="{slot * 0.4:.1f}" height="{BOTTOM - y:.1f}"'
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" {size} fill="{color}"/>')
        parts.append(_label(start + slot / 2, label[:LABEL_CHARS], rotate=True))
    return parts


def distribution_svg(sketch: Sketch | None, title: str) -> str:
    """One feature's reference and current distributions as an `<svg>` element.

    Numeric: overlaid densities between the sides' outermost 0.5% and 99.5% quantiles (the tails count in
    the end bins). Categorical: side-by-side bars of the shares of the 15 most frequent categories.
    The page captions each plot and states the colours once.
    """
    if sketch is None:
        body = [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no values</text>']
    else:
        body = _numeric(sketch) if sketch.edges.size else _categorical(sketch)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-size="9" font-family="sans-serif">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#888"/>' + "".join(body) + "</svg>"
    )


DISAGREEMENT_COLOR = "#c44e52"


def disagreement_svg(labels: list[str], rates: list[float], overall: float, title: str, axis: list[str]) -> str:
    """One feature's disagreement rate per range as bars on a 0-100% scale, with the overall rate as a line.

    A range that disagrees far more than the line is where production and the challenger part ways.
    `axis` labels the bars (short: a numeric range's lower edge); `labels` are their tooltips.
    """
    slot = (RIGHT - LEFT) / max(len(labels), 1)
    parts = []
    for index, (label, rate, short) in enumerate(zip(labels, rates, axis, strict=True)):
        start = LEFT + index * slot
        y = _y(rate, 1.0)
        size = f'width="{slot * 0.8:.1f}" height="{BOTTOM - y:.1f}"'
        parts.append(f'<rect x="{start + slot * 0.1:.1f}" y="{y:.1f}" {size} fill="{DISAGREEMENT_COLOR}">')
        parts.append(f"<title>{escape(label)}: {rate:.1%}</title></rect>")
        parts.append(_label(start + slot / 2, short[:LABEL_CHARS], rotate=True))
    line = _y(overall, 1.0)
    parts.append(
        f'<line x1="{LEFT}" y1="{line:.1f}" x2="{RIGHT}" y2="{line:.1f}" stroke="#222" stroke-dasharray="4 3"/>'
    )
    parts.append(f'<text x="{RIGHT}" y="{TOP + 8}" text-anchor="end">100%</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-size="9" font-family="sans-serif">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#888"/>' + "".join(parts) + "</svg>"
    )
