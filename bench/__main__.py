"""`python -m bench` (what `make bench` runs): throughput against the peers, then alias-reload latency.

Registers the two models in `bench/out/mlflow.db`, serves each with this project's predictor,
`mlflow models serve` and MLServer 1.7.1 (without and with adaptive batching; its own environment in
`bench/envs/mlserver`), every server pinned to CPU 0 and wrk to CPU 1, and writes `bench/results.md`.
A full run takes about 15 minutes; `--quick` about 4.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import shutil
import sys
from pathlib import Path

from bench import report, servers
from bench.baseline import baseline_server
from bench.baseline import prepare as prepare_baseline
from bench.echo import echo_server
from bench.mlserver_env import PACKAGES, ensure_mlserver
from bench.models import register, tracking_uri
from bench.throughput import ModelRun, measure, save

HERE = Path(__file__).resolve().parent
log = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per load, 3 reload flips: about 4 minutes")
    parser.add_argument("--seconds", type=float, default=None, help="length of one wrk run (default 8)")
    parser.add_argument("--rounds", type=int, default=None, help="A B A B rounds (default 3; quick 2)")
    parser.add_argument("--connections", default="1,8,64", help="comma-separated connection counts")
    parser.add_argument("--models", default="logreg,forest,hgb", help="any of logreg, forest, hgb")
    parser.add_argument("--no-mlserver", action="store_true", help="leave MLServer out")
    parser.add_argument("--no-reload", action="store_true", help="skip the alias-reload measurement")
    parser.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE", help="predictor setting")
    parser.add_argument(
        "--baseline", metavar="REV", help="also serve this earlier commit of the project (e.g. HEAD~1), side by side"
    )
    parser.add_argument("--out", type=Path, default=HERE / "out", help="registry, logs, raw results")
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    return parser.parse_args(argv)


def preflight() -> None:
    missing = [tool for tool in ("wrk", "taskset", "uv") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"error: {', '.join(missing)} not on PATH (wrk: `make system-deps`, Debian package wrk)")
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("error: the bench pins servers to CPU 0 and wrk to CPU 1: it needs two CPUs")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--many-models" in argv:  # issue 17: its own scenario and table (bench/many_models.py)
        from bench import many_models

        return many_models.main([a for a in argv if a != "--many-models"])
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("mlflow", "alembic", "training", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    preflight()
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    rounds = args.rounds or (2 if args.quick else 3)
    connections = tuple(int(c) for c in args.connections.split(","))
    out: Path = args.out.resolve()
    ours_env = dict(item.split("=", 1) for item in args.ours_env)
    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()

    models = register(out, tuple(args.models.split(",")))
    uri = tracking_uri(out)
    mlserver_python, mlserver_problem = None, None
    if not args.no_mlserver:
        try:
            mlserver_python = ensure_mlserver(sys.executable)
        except Exception as exc:
            mlserver_problem = f"MLServer could not be installed: {exc}"
            log.error(mlserver_problem)
    baseline = prepare_baseline(args.baseline, out) if args.baseline else None
    runs: list[ModelRun] = []
    for model in models:
        under_test = [
            servers.ours(model, uri, out, label="aliasserve, COMPILE=auto", **ours_env),
            servers.ours(
                model, uri, out, key="ours-native", label="aliasserve, COMPILE=off", **{**ours_env, "COMPILE": "off"}
            ),
            echo_server(model, out),
            servers.mlflow_serve(model, uri, out),
        ]
        if baseline is not None:
            under_test.append(baseline_server(model, uri, out, *baseline))
        if mlserver_python is not None:
            under_test += [servers.mlserver(model, uri, out, mlserver_python, batching) for batching in (False, True)]
        log.info("== %s: %s", model.label, ", ".join(s.key for s in under_test))
        runs.append(measure(model, under_test, connections, seconds, rounds))
    save(runs, out / "throughput.json")

    reload_lines: list[str] = []
    if not args.no_reload:
        from bench.reload import measure_reload, reload_table

        reload_lines = reload_table(measure_reload(out, flips=3 if args.quick else 5))

    high, low = max(connections), min(connections)
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"`python -m bench{' --quick' if args.quick else ''}` on {started:%Y-%m-%d %H:%M} UTC, "
            f"{platform.machine()} with {os.cpu_count()} CPUs; servers pinned to CPU 0, wrk (1 thread) to CPU 1, "
            f"loopback; {seconds:g} s per run, {rounds} rounds A B A B, medians over rounds. Load average "
            f"before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} (other work on the machine shows here).",
            "",
            "One row of breast_cancer (30 float features) per request: `POST /invocations` with `dataframe_split` "
            "for this project and `mlflow models serve`; `POST /v2/models/NAME/infer` (one FP64 input per column) "
            f"for MLServer, whose adaptive batching serves that route. MLServer environment: {', '.join(PACKAGES)}. "
            f"Predictor settings: {ours_env or 'defaults'}; capture on (to a local folder).",
            "",
            *report.table(runs, connections),
            "",
            "Peak RSS: VmHWM summed over the server's process tree (`mlflow models serve` keeps its CLI process "
            "beside uvicorn; MLServer runs inference in a worker process).",
            "",
            "## Ratios (this project ÷ peer; each a median of per-round ratios)",
            "",
            *report.ratio_table(runs, connections),
            "",
            "## Goals (issue 7)",
            "",
            *report.goal_lines(report.goals(runs, high, low)),
            "",
            "## Compiled models and the wire (issue 16)",
            "",
            "`aliasserve, COMPILE=auto` serves the compiled form proven equal at load (a linear model's affine map, "
            "else ONNX Runtime: `runtime` below); `COMPILE=off` the native scikit-learn model; the bare ASGI echo "
            "reads the body and answers a constant under the same uvicorn.",
            "",
            *report.goal_lines(report.compile_goals(runs, high, low)),
            "",
            *(
                [
                    f"## Against the baseline commit ({baseline[0]}), both native (issue 13: the fast path)",
                    "",
                    *report.goal_lines(report.baseline_goals(runs, high, low)),
                    "",
                ]
                if baseline
                else []
            ),
            "What the load found (`/model` `compilation`):",
            "",
            *report.compilation_lines(runs),
            "",
            *(
                [
                    "## Problems",
                    "",
                    *report.problems(runs),
                    *([f"- {mlserver_problem}"] if mlserver_problem else []),
                    "",
                ]
                if report.problems(runs) or mlserver_problem
                else []
            ),
            *(["## Alias reload latency (issue 3)", "", *reload_lines, ""] if reload_lines else []),
        ]
    )
    args.results.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
