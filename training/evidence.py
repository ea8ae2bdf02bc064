"""Live evidence for promotion: how the Challenger answered today's traffic while it shadowed Production.

The evidence is read from the capture files (`drift/capture_reader.py`), not from Prometheus: the files
are durable (a counter restarts with every pod, and Prometheus keeps a retention window and may not be
reachable from where training runs), they hold each row with both answers (so the drift report can show
*where* the versions disagree), and they are what the drift job and the audit already trust.

Evidence = the rows captured in the window whose `_shadow_version` is the candidate and, when a version
serves now, whose `_model_version` is that version: agreement with a version that no longer serves
(before a rollback, say) says nothing about replacing today's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from drift import shadow
from drift.capture_reader import Window, read_window
from drift.shadow import ShadowCounts
from drift.shadow_settings import LiveBounds

logger = logging.getLogger(__name__)

MAX_ROWS = 2_000_000
"""Rows read at most (a seeded sample beyond): five small columns, well under a gigabyte."""


@dataclass(frozen=True)
class Evidence:
    """The counts of the candidate's shadowed rows in the window, against one production version."""

    candidate: str
    production: str | None
    window: Window
    counts: ShadowCounts
    sampled: bool
    """The window held more than `MAX_ROWS` rows: counts are from a seeded sample, scaled up."""


def _scaled(counts: ShadowCounts, factor: float) -> ShadowCounts:
    if factor == 1.0:
        return counts
    fields = {name: round(value * factor) for name, value in vars(counts).items()}
    return ShadowCounts(**fields)


def read_evidence(bounds: LiveBounds, model: str, candidate: str, production: str | None, now: datetime) -> Evidence:
    """The candidate's evidence in the window ending `now`; files without shadow columns hold none."""
    window = Window.ending(now, bounds.window)
    read = read_window(bounds.capture_uri, model, window, [shadow.SHADOW_VERSION], shadow.COLUMNS, MAX_ROWS)
    frame = read.frame
    for column in shadow.COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(None, index=frame.index, dtype=object)
    mine = frame[shadow.SHADOW_VERSION].astype(str) == candidate
    if production is not None:
        mine &= frame[shadow.MODEL_VERSION].astype(str) == production
    counts = shadow.count(frame[mine.to_numpy()], bounds.tolerance)
    factor = read.window_rows / len(frame) if len(frame) and read.window_rows > len(frame) else 1.0
    evidence = Evidence(candidate, production, window, _scaled(counts, factor), sampled=factor != 1.0)
    logger.info(
        "live evidence of version %s against %s: %s", candidate, production or "no production", counts.as_dict()
    )
    return evidence
