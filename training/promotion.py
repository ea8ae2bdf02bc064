"""Promotion on live evidence: `python -m training promote` and the drift job's `--promote` both end here.

The loop: a retrained version is registered as `Challenger` and, when live evidence is required, not
promoted by the training run (its gate says `waiting`); the service shadows it (`SHADOW_ALIAS=Challenger`)
and captures both answers; a later `promote` (by hand, a CronJob, or the drift job's next run) reads the
capture and promotes it once it shadowed enough rows within the bounds (`training/live_gate.py`).
Each judgement is a run of its own in the model's training experiment (tag `aliasserve.role=promotion`).
A version whose offline gate failed (`aliasserve.gate.passed=false`, set by its training run) stays
blocked whatever the live evidence says.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import RunStatus

from drift.capture_reader import Window
from drift.shadow import ShadowCounts
from drift.shadow_settings import LiveBounds
from training import registry
from training.evidence import Evidence, read_evidence
from training.live_gate import Judgement, LiveDecision, judge, record, summary
from training.tracking import ensure_experiment, experiment_name_for

logger = logging.getLogger(__name__)

ROLE_TAG = "aliasserve.role"
OFFLINE_PASSED_TAG = "aliasserve.gate.passed"
NOTHING_TO_PROMOTE = "nothing_to_promote"


def no_evidence(candidate: str, production: str | None, bounds: LiveBounds, now: datetime) -> Evidence:
    """The evidence of a version registered a moment ago: nothing has been shadowed with it yet."""
    return Evidence(candidate, production, Window.ending(now, bounds.window), ShadowCounts(0, 0, 0, 0, 0, 0), False)


def _nothing(name: str, reason: str) -> dict[str, Any]:
    logger.info("promote %s: nothing to promote (%s)", name, reason)
    return {"model_name": name, "decision": NOTHING_TO_PROMOTE, "reason": reason, "promoted": False}


def _offline_refusal(client: MlflowClient, name: str, candidate: str) -> str | None:
    if client.get_model_version(name, candidate).tags.get(OFFLINE_PASSED_TAG) == "false":
        return f"blocked: the offline gate of version {candidate} did not pass (its training run's gate.* tags)"
    return None


def _judging_run(client: MlflowClient, tracking_uri: str, name: str, candidate: str, drift_run_id: str | None) -> str:
    experiment_id = ensure_experiment(client, tracking_uri, experiment_name_for(name))
    tags = {ROLE_TAG: "promotion", "mlflow.runName": f"live-gate-{name}-v{candidate}"}
    if drift_run_id:
        tags["aliasserve.drift_run_id"] = drift_run_id
    return str(client.create_run(experiment_id, tags=tags).info.run_id)


def promote_on_evidence(
    client: MlflowClient,
    tracking_uri: str,
    name: str,
    bounds: LiveBounds,
    now: datetime,
    *,
    version: str | None = None,
    stage: str | None = None,
    drift_run_id: str | None = None,
) -> dict[str, Any]:
    """Judge `version` (default: `@Challenger`) on its live evidence and promote it when it passes.

    Returns the JSON-able outcome: `decision` (promoted, waiting, blocked or nothing_to_promote), `promoted`,
    `version`, `run_id` (the judging run) and `live_gate` (evidence, bounds, window).
    """
    registry.require_model(client, name)
    candidate = version or registry.version_by_alias(client, name, registry.CHALLENGER)
    if candidate is None:
        return _nothing(name, f"{name!r} has no {registry.CHALLENGER!r} alias")
    production = registry.production_version(client, name, stage)
    if candidate == production:
        return _nothing(name, f"version {candidate} already serves as {stage or registry.PRODUCTION}")
    evidence = read_evidence(bounds, name, candidate, production, now)
    judgement = judge(evidence, bounds)
    refusal = _offline_refusal(client, name, candidate)
    if refusal is not None and judgement.decision is LiveDecision.PROMOTED:
        judgement = Judgement(LiveDecision.BLOCKED, refusal)
    run_id = _judging_run(client, tracking_uri, name, candidate, drift_run_id)
    try:
        outcome = summary(evidence, bounds, judgement)
        record(client, name, run_id, outcome)
        promoted = judgement.decision is LiveDecision.PROMOTED
        if promoted:
            registry.promote(client, name, candidate, stage)
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id)
    logger.info("promote %s version %s: %s", name, candidate, judgement.reason)
    return {
        "model_name": name,
        "version": candidate,
        "decision": judgement.decision.value,
        "reason": judgement.reason,
        "promoted": promoted,
        "run_id": run_id,
        "live_gate": outcome,
    }
