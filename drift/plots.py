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
    bins = np.linspace(low, high, BINS + 1).tolist()
    for values, color, label in ((ref, REFERENCE_COLOR, "reference"), (cur, CURRENT_COLOR, "current")):
        if values.size:
            ax.hist(
                np.clip(values, low, high),
                bins=bins,
                density=True,
                histtype="stepfilled",
                alpha=0.45,
                color=color,
                label=f"{label} (n={values.size:,})",
            )
    ax.set_yticks([])
    ax.locator_params(axis="x", nbins=5)


def _categorical(ax: Axes, reference: pd.Series, current: pd.Series) -> None:
    labels, table = category_table(reference, current)
    totals = np.maximum(table.sum(axis=1, keepdims=True), 1)
    shares = (table / totals)[:, :SHOWN_CATEGORIES]
    labels = labels[:SHOWN_CATEGORIES]
    positions = np.arange(len(labels))
    width = 0.4
    ax.bar(positions - width / 2, shares[0], width, color=REFERENCE_COLOR, label=f"reference (n={len(reference):,})")
    ax.bar(positions + width / 2, shares[1], width, color=CURRENT_COLOR, label=f"current (n={len(current):,})")
    ax.set_xticks(positions, [label[:18] for label in labels], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")


def distribution_png(name: str, kind: Kind, reference: pd.Series, current: pd.Series, subtitle: str) -> bytes:
    """One feature's reference and current distributions: overlaid histograms or side-by-side bars."""
    figure = Figure(figsize=(5.2, 2.9), dpi=80)
    figure.subplots_adjust(left=0.12, right=0.98, top=0.82, bottom=0.2)
    ax = figure.subplots()
    if kind == "numeric":
        _numeric(ax, reference, current)
    else:
        _categorical(ax, reference, current)
    ax.set_title(f"{name}\n{subtitle}", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
