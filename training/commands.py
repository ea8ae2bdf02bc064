"""What each CLI command does; each returns the JSON-able summary printed as the last stdout line."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from typing import Any

import mlflow
from mlflow import MlflowClient

from training import registry
from training.data import DEMO_TARGET, load_demo_frame, read_frame, require_target, write_frame
from training.errors import TrainingInputError
from training.live_flags import live_bounds
from training.promotion import promote_on_evidence
from training.tracking import tracking_uri_from_env
from training.train import train_and_register

logger = logging.getLogger("training")

DEMO_SOURCE = "sklearn.datasets.load_breast_cancer"


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train on `--data`, register as Challenger, gate against Production, promote when asked and passed."""
    live = live_bounds(args)
    frame = read_frame(args.data)
    require_target(frame, args.target)
    holdout = None
    if args.eval_data:
        holdout = read_frame(args.eval_data)
        require_target(holdout, args.target)
    logger.info("loaded %d rows and %d columns from %s", len(frame), len(frame.columns), args.data)
    result = train_and_register(
        args.model_name,
        frame,
        args.target,
        promote=args.promote,
        force=args.force,
        tracking_uri=tracking_uri_from_env(),
        drift_run_id=args.drift_run_id or None,
        metric=args.metric,
        tolerance=args.tolerance,
        experiment=args.experiment or None,
        holdout=holdout,
        source=args.data,
        stage=args.stage,
        live=live,
    )
    return result.as_dict()


def promote(args: argparse.Namespace) -> dict[str, Any]:
    """Promote the Challenger (or `--version`) when its live evidence is within bounds; else say why not."""
    bounds = live_bounds(args)
    if bounds is None:
        raise TrainingInputError("promote needs --shadow-min-rows of 1 or more (promote without evidence: train)")
    uri = tracking_uri_from_env()
    client = MlflowClient(uri)
    return promote_on_evidence(
        client, uri, args.model_name, bounds, datetime.now(UTC), version=args.version, stage=args.stage
    )


def rollback(args: argparse.Namespace) -> dict[str, Any]:
    """Move `Production` back to `Previous` (and `Previous` to the version rolled back from)."""
    uri = tracking_uri_from_env()
    move = registry.rollback(MlflowClient(uri), args.model_name, args.stage)
    return {"model_name": move.name, "production": move.production, "previous": move.previous}


def seed_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Train the demo model and alias it Production, unless `NAME@Production` already exists."""
    uri = tracking_uri_from_env()
    mlflow.set_tracking_uri(uri)
    existing = registry.version_by_alias(MlflowClient(uri), args.model_name, registry.PRODUCTION)
    if existing is not None:
        logger.info("%s@%s already exists (version %s): nothing to do", args.model_name, registry.PRODUCTION, existing)
        return {"model_name": args.model_name, "version": existing, "promoted": False, "seeded": False}
    logger.info("seeding %s from %s on %s", args.model_name, DEMO_SOURCE, uri)
    result = train_and_register(args.model_name, load_demo_frame(), DEMO_TARGET, promote=True, tracking_uri=uri)
    return {**result.as_dict(), "seeded": True}


def export_demo_data(args: argparse.Namespace) -> dict[str, Any]:
    """Write the demo frame to PATH (Parquet or CSV by suffix), e.g. as `--data` for retraining."""
    frame = load_demo_frame()
    path = write_frame(frame, args.path)
    logger.info("wrote %d rows to %s", len(frame), path)
    return {"path": path, "rows": len(frame), "columns": len(frame.columns), "target": DEMO_TARGET}
