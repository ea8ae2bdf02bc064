"""`make load`: locust headless for a bounded time against a running predictor, CSV and HTML reports.

    python loadtests/run.py [--host http://127.0.0.1:8000] [--run-time 60s] [--users 20] [--no-alias-moves]

Defaults fit `make demo` (another terminal): its service on port 8000 and its registry
`sqlite:///mlflow.db`. Reports go to `loadtests/reports/` (`load_stats.csv`, `load_failures.csv`,
`load.html`, `summary.json`). Exit code 0 only when no request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python loadtests/run.py", description=__doc__)
    parser.add_argument("--host", default="http://127.0.0.1:8000")
    parser.add_argument("--run-time", default="60s", help="locust's --run-time (e.g. 30s, 2m)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    parser.add_argument("--move-every", type=float, default=10.0, help="seconds between alias moves")
    parser.add_argument("--no-alias-moves", action="store_true", help="steady and burst traffic only")
    parser.add_argument("--reports", type=Path, default=HERE / "reports")
    args = parser.parse_args(argv)

    try:
        httpx.get(f"{args.host}/health/ready", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        print(f"error: no ready predictor at {args.host} ({exc}); start one with `make demo`", file=sys.stderr)
        return 2
    args.reports.mkdir(parents=True, exist_ok=True)
    classes = ["SteadyUser", "BurstUser"] + ([] if args.no_alias_moves else ["AliasMover"])
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--only-summary",
        "--host",
        args.host,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.run_time,
        "--stop-timeout",
        "10",
        "--csv",
        str(args.reports / "load"),
        "--html",
        str(args.reports / "load.html"),
        "--tracking-uri",
        args.tracking_uri,
        "--move-every",
        str(args.move_every),
        "--summary-file",
        str(args.reports / "summary.json"),
        *classes,
    ]
    (args.reports / "summary.json").unlink(missing_ok=True)
    code = subprocess.run(command, check=False).returncode
    print(f"reports: {args.reports}/load_stats.csv, load.html, summary.json")
    summary = args.reports / "summary.json"
    if code == 0 and (not summary.exists() or not sum(json.loads(summary.read_text())["versions_seen"].values())):
        print("error: no request was answered during the run", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
