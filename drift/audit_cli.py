"""`python -m drift audit --capture-uri URI (--request-id ID | --since T [--until T])`.

Prints the matching captured rows on stdout, one JSON object a line (drift/audit_rows.py says what is
in one), and a summary on stderr. Exit 0 when rows were found, 4 when none matched (so scripts can tell),
1 when the capture could not be read, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from drift import DriftError
from drift.settings import absolute_local, absolute_tracking_uri, environment_defaults, now_utc

NOT_FOUND_EXIT = 4


def add_arguments(audit: argparse.ArgumentParser, instant: Callable[[str], datetime]) -> None:
    """The audit subcommand's flags; `instant` parses an ISO time (shared with `run --window-end`)."""
    audit.add_argument("--capture-uri", help="capture root, a folder or s3://... (default: $CAPTURE_URI, ./capture)")
    audit.add_argument("--request-id", help="an X-Request-ID or X-Server-Request-ID as answered")
    audit.add_argument("--since", type=instant, help="start of a time range, ISO time (UTC if no offset)")
    audit.add_argument("--until", type=instant, help="end of the range (default: now)")
    audit.add_argument("--model", help="only this registered model (default: every model in the capture)")
    audit.add_argument("--tracking-uri", help="MLflow tracking URI for links and runs (default: $MLFLOW_TRACKING_URI)")
    audit.add_argument("--limit", type=_positive, default=None, help="print at most this many rows")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def run_audit(args: argparse.Namespace, environ: Mapping[str, str], usage_error: type[DriftError]) -> int:
    """Run an audit query; raises `usage_error` for a bad combination of flags, DriftError when it cannot read."""
    from drift.audit import AuditQuery, find
    from drift.audit_rows import registry_runs, rows
    from drift.capture_reader import Window

    if args.request_id is None and args.since is None:
        raise usage_error("python -m drift audit: give --request-id ID, or --since T [--until T], or both")
    if args.until is not None and args.since is None:
        raise usage_error("python -m drift audit: --until needs --since")
    window = None
    if args.since is not None:
        window = Window(args.since, args.until or now_utc())
        if window.end <= window.start:
            raise usage_error("python -m drift audit: --until must be after --since")
    capture, _ = environment_defaults(environ)
    tracking = args.tracking_uri or environ.get("MLFLOW_TRACKING_URI")
    tracking = absolute_tracking_uri(tracking) if tracking else None
    query = AuditQuery(args.request_id, window, args.model)
    started, printed, files = time.perf_counter(), 0, 0
    run_of = None
    for match in find(absolute_local(args.capture_uri or capture), query):
        if args.limit is not None and printed >= args.limit:
            break
        files += 1
        if tracking and run_of is None and match.schema_version < 2:
            run_of = registry_runs(tracking)
        for row in rows(match, tracking, run_of):
            if args.limit is not None and printed >= args.limit:
                break
            print(json.dumps(row, allow_nan=False, default=str), flush=False)
            printed += 1
    sys.stdout.flush()
    elapsed = time.perf_counter() - started
    print(f"audit: {printed} row(s) from {files} file(s) in {elapsed:.3f} s", file=sys.stderr)
    return 0 if printed else NOT_FOUND_EXIT
