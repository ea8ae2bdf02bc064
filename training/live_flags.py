"""The flags of the live gate, shared by `train` (off unless `--shadow-min-rows` > 0) and `promote`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta

from drift.settings import absolute_local, parse_duration
from drift.shadow_settings import (
    DEFAULT_ATOL,
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_MIN_AGREEMENT,
    DEFAULT_MIN_ROWS,
    DEFAULT_RTOL,
    DEFAULT_WINDOW,
    LiveBounds,
    Tolerance,
)
from training.errors import TrainingInputError


def _rows(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows (0 or more)")
    return int(text)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return value


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a tolerance of 0 or more")
    return value


def _window(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_live_flags(parser: argparse.ArgumentParser, min_rows: int | None, capture_flag: bool = True) -> None:
    """`min_rows` 0: the live gate is off unless asked; None: it is the command's point (default N rows).

    `capture_flag`: add `--capture-uri` (the drift job has its own, which the live gate then reads).
    """
    default_rows = DEFAULT_MIN_ROWS if min_rows is None else min_rows
    add: Callable[..., object] = parser.add_argument_group("live evidence (shadow rows in the capture)").add_argument
    add(
        "--shadow-min-rows",
        type=_rows,
        default=default_rows,
        help=f"rows the Challenger must have shadowed before promotion (default {default_rows}"
        + ("; 0: no live evidence required)" if min_rows == 0 else ")"),
    )
    add("--shadow-min-agreement", type=_share, default=DEFAULT_MIN_AGREEMENT, help="share of rows answered alike")
    add("--shadow-max-error-rate", type=_share, default=DEFAULT_MAX_ERROR_RATE, help="share of rows the shadow failed")
    add("--shadow-window", type=_window, default=DEFAULT_WINDOW, help="how far back to read the capture (7d)")
    add(
        "--shadow-atol",
        type=_tolerance,
        default=DEFAULT_ATOL,
        help="a regressor's outputs agree when |a-b| <= atol + rtol*|a|",
    )
    add(
        "--shadow-rtol",
        type=_tolerance,
        default=DEFAULT_RTOL,
        help="(labels agree when identical; defaults as the service's)",
    )
    if capture_flag:
        add("--capture-uri", default="", help="the capture root the service writes (CAPTURE_URI of the service)")


def tolerance(args: argparse.Namespace) -> Tolerance:
    return Tolerance(args.shadow_atol, args.shadow_rtol)


def live_bounds(args: argparse.Namespace, capture_uri: str | None = None) -> LiveBounds | None:
    """The bounds asked for on the command line, or None when no live evidence is required."""
    if args.shadow_min_rows == 0:
        return None
    capture = (capture_uri if capture_uri is not None else args.capture_uri).strip()
    if not capture:
        raise TrainingInputError("--shadow-min-rows needs --capture-uri: where the service captures the shadow rows")
    return LiveBounds(
        capture_uri=absolute_local(capture),
        min_rows=args.shadow_min_rows,
        min_agreement=args.shadow_min_agreement,
        max_error_rate=args.shadow_max_error_rate,
        window=args.shadow_window,
        tolerance=tolerance(args),
    )
