"""The live gate: judge a candidate's shadow evidence against the bounds, and record what was used.

Outcomes: `promoted` (enough rows, agreement and error rate within bounds), `waiting` (fewer shadowed rows
than required: nothing is wrong yet, ask again later), `blocked` (enough rows, but agreement below or error
rate above its bound; a later run with more evidence judges again). The evidence and the bounds are
recorded as tags on the candidate's model version (`aliasserve.live_gate.*`, so the registry UI shows why
a Challenger waits) and on the run that judged it (`live_gate.*` tags and metrics).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag

from drift.shadow_settings import LiveBounds
from training.evidence import Evidence

logger = logging.getLogger(__name__)

VERSION_TAG_PREFIX = "aliasserve.live_gate."
RUN_TAG_PREFIX = "live_gate."


class LiveDecision(StrEnum):
    PROMOTED = "promoted"
    WAITING = "waiting"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Judgement:
    decision: LiveDecision
    reason: str


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def judge(evidence: Evidence, bounds: LiveBounds) -> Judgement:
    """Waiting below `min_rows` shadowed rows; then blocked by error rate, then by agreement."""
    counts = evidence.counts
    if counts.shadowed < bounds.min_rows:
        return Judgement(
            LiveDecision.WAITING,
            f"waiting: version {evidence.candidate} shadowed {counts.shadowed} of the {bounds.min_rows} rows required",
        )
    error_rate, agreement = counts.error_rate or 0.0, counts.agreement
    if error_rate > bounds.max_error_rate:
        return Judgement(
            LiveDecision.BLOCKED,
            f"blocked: error rate {error_rate:.4f} above {bounds.max_error_rate} over {counts.shadowed} rows",
        )
    if agreement is None or agreement < bounds.min_agreement:
        return Judgement(
            LiveDecision.BLOCKED,
            f"blocked: agreement {_share(agreement)} below {bounds.min_agreement} over {counts.compared} compared rows",
        )
    return Judgement(
        LiveDecision.PROMOTED,
        f"passed: agreement {_share(agreement)}, error rate {error_rate:.4f} over {counts.shadowed} rows",
    )


def summary(evidence: Evidence, bounds: LiveBounds, judgement: Judgement) -> dict[str, Any]:
    """The JSON-able record of one judgement: decision, evidence, bounds and window."""
    return {
        "decision": judgement.decision.value,
        "reason": judgement.reason,
        "candidate_version": evidence.candidate,
        "production_version": evidence.production,
        **evidence.counts.as_dict(),
        "sampled": evidence.sampled,
        "window": {"start": evidence.window.start.isoformat(), "end": evidence.window.end.isoformat()},
        "bounds": bounds.as_tags(),
    }


def _flat(record: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": str(item) for inner, item in value.items()})
        elif value is not None:
            flat[key] = str(value)
    return {key: value[:5000] for key, value in flat.items()}


def record(client: MlflowClient, name: str, run_id: str, record: dict[str, Any]) -> None:
    """Tags on the candidate's version and on the run `run_id`; counts and shares as the run's metrics."""
    flat = _flat({**record, "run_id": run_id})
    for key, value in flat.items():
        client.set_model_version_tag(name, record["candidate_version"], VERSION_TAG_PREFIX + key, value)
    tags = [RunTag(RUN_TAG_PREFIX + key, value) for key, value in flat.items() if key != "run_id"]
    stamp = int(time.time() * 1000)
    metrics = [
        Metric(RUN_TAG_PREFIX + key, float(record[key]), stamp, 0)
        for key in ("rows", "shadowed", "compared", "errors", "dropped", "agreement", "error_rate")
        if record.get(key) is not None
    ]
    client.log_batch(run_id, metrics=metrics, tags=tags)
    logger.info("live gate on %s version %s: %s", name, record["candidate_version"], record["reason"])
