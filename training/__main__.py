"""`python -m training {train,promote,rollback,seed-demo,export-demo-data}`.

`--stage STAGE` (train, rollback): the model is served by stage URI, so promotion and rollback are stage
transitions (see `training/registry.py`); without it they move the `Production` alias.

Progress goes to stderr through `logging`; the last stdout line is one JSON object. Errors a user
can cause (a missing file, a target that is not a column, an unknown model, no `Previous` to roll
back to) print one line on stderr and exit 2. `promote` exits 0 when the Challenger was promoted, is
waiting for evidence or there is nothing to promote, and 3 when its live evidence blocks it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import NoReturn

from mlflow.exceptions import MlflowException

from service.model_uri import STAGES, canonical_stage
from training import commands
from training.data import DEMO_MODEL_NAME
from training.errors import RegistryStateError, TrainingInputError
from training.gate import CLASSIFIER_METRICS, DEFAULT_TOLERANCE, REGRESSOR_METRICS
from training.live_flags import add_live_flags

USAGE_ERROR = 2
BLOCKED = 3
USER_ERRORS = (TrainingInputError, RegistryStateError, MlflowException, OSError)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump), like every other user error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _flag(value: str) -> bool:
    """`--promote` alone means true; MLflow Projects passes `--promote true|false` explicitly."""
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no", ""}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


METRICS = CLASSIFIER_METRICS + REGRESSOR_METRICS


def _metric(value: str) -> str | None:
    """An empty value (MLflow Projects' default) picks the estimator's default metric."""
    if value in {"", "auto"}:
        return None
    if value not in METRICS:
        raise argparse.ArgumentTypeError(f"unknown metric {value!r}; use one of {', '.join(METRICS)}")
    return value


def _stage(value: str) -> str | None:
    """A registry stage in any case (as MLflow matches them); empty (MLflow Projects' default): aliases."""
    if not value.strip():
        return None
    stage = canonical_stage(value.strip())
    if stage is None:
        raise argparse.ArgumentTypeError(f"unknown stage {value!r}; use one of {', '.join(STAGES)}")
    return stage


STAGE_HELP = "promote by transition into this stage (a model served as models:/NAME/STAGE), not the alias"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m training", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train, register as Challenger, gate against Production, maybe promote")
    train.add_argument("--model-name", required=True, help="registered model name")
    train.add_argument("--data", required=True, help="Parquet or CSV: a local path or a pyarrow URI (s3://...)")
    train.add_argument("--target", required=True, help="the label column")
    train.add_argument("--promote", nargs="?", const=True, default=False, type=_flag, help="promote if the gate passes")
    train.add_argument(
        "--force", action="store_true", help="promote even if the gate refuses (e.g. Production cannot be scored)"
    )
    train.add_argument("--metric", type=_metric, default=None, help="accuracy|f1 (classifiers), rmse (regressors)")
    train.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="how much worse than Production")
    train.add_argument("--drift-run-id", default="", help="the drift run that triggered this retraining")
    train.add_argument("--experiment", default="", help="experiment name (default training-<model name>)")
    train.add_argument("--eval-data", default="", help="held-out data for the gate instead of a seeded 20%% split")
    train.add_argument("--stage", type=_stage, default=None, help=STAGE_HELP)
    add_live_flags(train, min_rows=0)
    train.set_defaults(handler=commands.train)

    promote = sub.add_parser("promote", help="promote the Challenger once its shadow evidence is within bounds")
    promote.add_argument("--model-name", required=True)
    promote.add_argument("--version", default=None, help="the version to judge (default: the Challenger alias)")
    promote.add_argument("--stage", type=_stage, default=None, help=STAGE_HELP)
    add_live_flags(promote, min_rows=None)
    promote.set_defaults(handler=commands.promote)

    rollback = sub.add_parser("rollback", help="move Production back to Previous")
    rollback.add_argument("--model-name", required=True)
    rollback.add_argument("--stage", type=_stage, default=None, help="roll back this stage instead of the alias")
    rollback.set_defaults(handler=commands.rollback)

    seed = sub.add_parser("seed-demo", help="register the demo model as NAME@Production unless it exists")
    seed.add_argument("--model-name", default=DEMO_MODEL_NAME)
    seed.set_defaults(handler=commands.seed_demo)

    export = sub.add_parser("export-demo-data", help="write the demo frame to PATH (.parquet or .csv)")
    export.add_argument("path")
    export.set_defaults(handler=commands.export_demo_data)
    return parser


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, MlflowException) else str(exc)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:1000] or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code; logging is configured by the caller (see the bottom)."""
    args = build_parser().parse_args(argv)
    try:
        summary = args.handler(args)
    except USER_ERRORS as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR
    print(json.dumps(summary), flush=True)
    return BLOCKED if summary.get("decision") == "blocked" else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
