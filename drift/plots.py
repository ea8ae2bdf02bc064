"""Reference-vs-current distribution plots as PNG bytes, for embedding in the HTML report.

Figures are made with `matplotlib.figure.Figure` and the Agg canvas directly, never through pyplot:
no global figure state, no display needed.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from drift.stats import Kind, category_table, numeric_values

REFERENCE_COLOR = "#4c72b0"
CURRENT_COLOR = "#dd8452"
BINS = 40
SHOWN_CATEGORIES = 15


def _numeric(ax: Axes, reference: pd.Series, current: pd.Series) -> None:
    ref, cur = numeric_values(reference), numeric_values(current)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    both = np.concatenate([ref, cur])
    if both.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    low, high = np.quantile(both, [0.005, 0.995])
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, BINS + 1)
    for values, color in ((ref, REFERENCE_COLOR), (cur, CURRENT_COLOR)):
        if values.size:
            density, _ = np.histogram(np.clip(values, low, high), bins=edges, density=True)
            ax.stairs(density, edges, fill=True, alpha=0.45, color=color)
    ax.set_yticks([])
    ax.locator_params(axis="x", nbins=5)


def _categorical(ax: Axes, reference: pd.Series, current: pd.Series) -> None:
    labels, table = category_table(reference, current)
    totals = np.maximum(table.sum(axis=1, keepdims=True), 1)
    shares = (table / totals)[:, :SHOWN_CATEGORIES]
    positions = np.arange(shares.shape[1])
    width = 0.4
    ax.bar(positions - width / 2, shares[0], width, color=REFERENCE_COLOR)
    ax.bar(positions + width / 2, shares[1], width, color=CURRENT_COLOR)
    ax.set_xticks(positions, [label[:18] for label in labels[:SHOWN_CATEGORIES]], rotation=30, ha="right")
    ax.locator_params(axis="y", nbins=3)


def distribution_png(kind: Kind, reference: pd.Series, current: pd.Series) -> bytes:
    """One feature's reference and current distributions: overlaid histograms, or side-by-side bars of shares.

    No title or legend: the page captions each plot and states the colours once, which halves the time
    spent rendering text (most of the cost of a small figure).
    """
    figure = Figure(figsize=(4.2, 2.2), dpi=72)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.96, bottom=0.24)
    ax = figure.subplots()
    if kind == "numeric":
        _numeric(ax, reference, current)
    else:
        _categorical(ax, reference, current)
    ax.tick_params(labelsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
