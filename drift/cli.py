"""`python -m drift run ...`: the command line of the drift job (and `audit`: drift/audit_cli.py).

Exit codes: 0 the check ran (drift or not, or too little data: `drift_detected` null); 1 it could not
run (unknown model or alias, no reference artifact, capture columns that do not match, registry
unreachable); 2 bad command line; 3 the check ran but the retraining it started failed. Failures print
one line on stderr and no traceback; progress goes to stdout, whose last line is the JSON result.

Several models (a `--model-uri` list or `--model-filter`, drift/each_model.py): one JSON line per model,
then a summary line; the exit code is the worst of the models' (1 over 3 over 0).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from drift import DriftError, audit_cli
from drift.selection import ModelURIs, parse_model_uris, selection_from
from drift.settings import (
    DriftSettings,
    absolute_local,
    absolute_tracking_uri,
    environment_defaults,
    format_duration,
    now_utc,
    parse_duration,
    retrain_request,
)
from drift.verdict import CORRECTIONS, Thresholds
from service.model_uri import ModelURI
from training.live_flags import add_live_flags, live_bounds, tolerance


class UsageError(DriftError):
    """A bad command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """Raises instead of printing usage and exiting, so every failure is one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _model_uris(text: str) -> ModelURIs:
    try:
        return parse_model_uris(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("MODEL_URI ", "", 1)) from exc


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _number(low: float, high: float, *, open_low: bool = True) -> Callable[[str], float]:
    """A float in (low, high] (or [low, high]); NaN and text fail the check."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (low < value <= high if open_low else low <= value <= high):
            bounds = f"{'(' if open_low else '['}{low}, {high}]"
            raise argparse.ArgumentTypeError(f"{text!r} is not a number in {bounds}")
        return value

    return parse


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _columns(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError("give column names separated by commas")
    return names


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time like 2026-01-31T12:00:00Z") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m drift`; other code can use it to validate a command line."""
    parser = _Parser(prog="python -m drift", description="Data drift checks of a served MLflow model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="compare captured inputs in a window with the reference rows")
    run.add_argument(
        "--model-uri",
        type=_model_uris,
        help="models:/NAME@ALIAS, models:/NAME/STAGE or models:/NAME/VERSION; several comma-separated "
        "(default: $MODEL_URI)",
    )
    run.add_argument(
        "--model-filter",
        help="check every registered model matching this MLflow search filter (default: $MODEL_FILTER)",
    )
    run.add_argument("--model-alias", help="the alias checked with --model-filter (default: $MODEL_ALIAS, Production)")
    run.add_argument(
        "--time-budget",
        type=_duration,
        help="several models: start no check after this long (below the CronJob's activeDeadlineSeconds)",
    )
    run.add_argument("--capture-uri", help="capture root (default: $CAPTURE_URI, else ./capture)")
    run.add_argument("--window", type=_duration, default="24h", help="how far back to read captures (30m, 24h, 7d)")
    run.add_argument("--window-end", type=_instant, help="end of the window, ISO time (default: now)")
    run.add_argument("--alpha", type=_number(0, 1), default=Thresholds.alpha, help="significance level (%(default)s)")
    run.add_argument(
        "--correction",
        choices=CORRECTIONS,
        default="bonferroni",
        help="multiple-testing correction across all tests of the run",
    )
    run.add_argument(
        "--ks-min-statistic",
        type=_number(0, 1, open_low=False),
        default=Thresholds.ks_min_statistic,
        help="numeric features drift only with a KS statistic at least this large (%(default)s)",
    )
    run.add_argument(
        "--min-distance",
        type=_number(0, 1, open_low=False),
        default=Thresholds.min_distance,
        help="categorical features and missing shares drift only when shares move this much (%(default)s)",
    )
    run.add_argument("--min-rows", type=_count, default=500, help="fewer captured rows: no verdict (null)")
    run.add_argument("--max-rows", type=_count, default=100_000, help="seeded sample size cap per side")
    run.add_argument("--categorical", type=_columns, default=(), help="columns to test as categories: a,b")
    run.add_argument(
        "--include-prediction",
        action="store_true",
        help="let prediction drift count toward drift_detected (reported either way)",
    )
    run.add_argument("--pushgateway", help="Prometheus Pushgateway address (host:port or URL)")
    run.add_argument("--seed", type=int, default=0, help="seed of the row sampling")
    retrain = run.add_argument_group("retraining")
    retrain.add_argument("--retrain", action="store_true", help="start the train entry point on drift")
    retrain.add_argument("--retrain-data", help="training data URI passed to the train entry point")
    retrain.add_argument("--target", help="label column of the training data")
    retrain.add_argument("--promote", action="store_true", help="promote the retrained version if its gate passes")
    retrain.add_argument("--cooldown", type=_duration, default="24h", help="no second retraining within this")
    retrain.add_argument("--retrain-project-uri", help="MLflow project to run (default: this repository)")
    add_live_flags(run, min_rows=0, capture_flag=False)  # with --promote: promote on live evidence (README)
    audit = commands.add_parser("audit", help="print the captured rows of a request id or a time range as JSON")
    audit_cli.add_arguments(audit, _instant)
    return parser


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> DriftSettings:
    """Combine parsed flags with the environment; cross-flag mistakes raise UsageError."""
    capture, tracking = environment_defaults(environ)
    try:
        selection = selection_from(args.model_uri, args.model_filter, args.model_alias, environ)
    except ValueError as exc:
        raise UsageError(f"python -m drift run: {str(exc).replace('MODEL_URI ', '--model-uri ', 1)}") from exc
    single = selection.single
    # With several models this is a template: each check gets its own URI from `DriftSettings.for_model`.
    model_uri = single or (selection.uris[0] if selection.uris else ModelURI(name="*", alias=selection.alias))
    capture_uri = absolute_local(args.capture_uri or capture)
    live = live_bounds(args, capture_uri)
    if live is not None and not (args.retrain and args.promote):
        raise UsageError("python -m drift run: --shadow-min-rows is a bound of --retrain --promote")
    retrain = None
    if args.retrain:
        try:
            retrain = retrain_request(
                args.retrain_data,
                args.target,
                args.promote,
                args.cooldown,
                args.retrain_project_uri,
                stage=model_uri.stage,  # a model followed by stage is promoted by stage transition
                live=live,
            )
        except ValueError as exc:
            raise UsageError(f"python -m drift run: {exc}") from exc
    if args.pushgateway is not None and not args.pushgateway.strip():
        raise UsageError("python -m drift run: --pushgateway is empty")
    return DriftSettings(
        model_uri=model_uri,
        capture_uri=capture_uri,
        tracking_uri=absolute_tracking_uri(tracking),
        window=args.window,
        window_text=format_duration(args.window),
        window_end=args.window_end or now_utc(),
        thresholds=Thresholds(args.alpha, args.correction, args.ks_min_statistic, args.min_distance),
        min_rows=args.min_rows,
        max_rows=args.max_rows,
        categorical=args.categorical,
        include_prediction=args.include_prediction,
        pushgateway=args.pushgateway,
        retrain=retrain,
        seed=args.seed,
        selection=None if single is not None else selection,
        time_budget=args.time_budget,
        shadow_tolerance=tolerance(args),
    )


def parse_command_line(argv: Sequence[str], environ: Mapping[str, str]) -> DriftSettings:
    """Settings from a full command line (`["run", "--model-uri", ...]`); raises UsageError."""
    return settings_from_args(build_parser().parse_args(list(argv)), environ)


def configure_logging() -> None:
    """Progress (ours, MLflow's, urllib3's retries, warnings) on stdout; stderr keeps only the failure line."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("drift").setLevel(logging.INFO)
    for name in ("mlflow", "alembic", "sqlalchemy.engine"):
        owned = logging.getLogger(name)
        owned.handlers = [handler]
        owned.setLevel(logging.WARNING)
    logging.captureWarnings(True)


def _fail(message: str, code: int) -> int:
    """Print the one line a failed run leaves on stderr; returns the exit code."""
    line = " ".join(message.split())
    print(line if line.startswith("python -m drift") else f"drift: {line}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    configure_logging()
    environ = os.environ if environ is None else environ
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        if args.command == "audit":
            return _audit(args, environ)
        settings = settings_from_args(args, environ)
    except UsageError as exc:
        return _fail(str(exc), 2)
    # Imported only now, so --help and usage errors answer without the seconds MLflow takes to import.
    from mlflow.exceptions import MlflowException

    from drift.job import run_drift_check
    from drift.reference import one_line
    from drift.result import result_json

    configure_logging()  # importing MLflow gave its loggers a stderr handler of their own: take them back
    if settings.selection is not None:
        from drift.each_model import check_each_model

        try:
            return check_each_model(settings, settings.selection)
        except (DriftError, MlflowException) as exc:
            return _fail(f"cannot select the models to check: {one_line(exc)}", 1)
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
    try:
        result = run_drift_check(settings)
    except DriftError as exc:
        return _fail(str(exc), 1)
    except MlflowException as exc:
        return _fail(f"MLflow error: {one_line(exc)}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    print(json.dumps(result_json(result), allow_nan=False), flush=True)
    if result.retrain.get("status") == "failed":
        return _fail(f"retraining failed: {result.retrain.get('error')}", 3)
    return 0


def _audit(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`python -m drift audit`: exit codes in drift/audit_cli.py; failures are one line, as for `run`."""
    import pyarrow as pa

    try:
        return audit_cli.run_audit(args, environ, UsageError)
    except UsageError:
        raise
    except (DriftError, pa.ArrowException, OSError) as exc:
        return _fail(f"audit: {' '.join(str(exc).split())}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
