"""`python -m bench --many-models` (also run by `make bench`): many registered models in one process (issue 17).

A real `mlflow server` (sqlite) holds N registered logistic regressions made from one logged model
(bench/many_registry.py). The predictor serves every one at `@Production` through `MODEL_FILTER`, pinned to
CPU 0 with wrk and the MLflow server on CPU 1, each server measured with the other stopped
(bench/many_alone.py), and the run measures (bench/many_scenarios.py):
- RSS with the first 1, 10, 50 and all N models served (one process each), the RSS per added model, and
  beside it the sum of the `memory_mb` the predictor measured for its models;
- mixed traffic over the N at c=64 (bench/many.lua picks a model per request) ÷ a one-model service, A B A B;
- moving one model's alias under traffic over the others: seconds until `/model` shows the new version,
  failed requests, p99 of the others during the move ÷ before;
- one model's new version failing to load under traffic over the others: the others' failed requests,
  whether they all still serve, and `model_reloads_total{result="failure"}` of that model.
Writes `bench/results-many-models.md` (goal / measured / target / met) and `bench/results-many-models.json`.
`--quick`: 10 models (RSS with 1, 5 and 10), 3 s loads, one round: a few minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import sys
from pathlib import Path

from bench import many_report
from bench.many_alone import beside_load
from bench.many_registry import register_many
from bench.many_scenarios import Figures, ManyBench
from bench.reload import mlflow_server

HERE = Path(__file__).resolve().parent
log = logging.getLogger("bench.many")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench --many-models", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 models, 3 s loads, one round")
    parser.add_argument("--count", type=int, default=None, help="registered models (default 100; quick 10)")
    parser.add_argument("--seconds", type=float, default=None, help="length of one wrk run (default 10; quick 3)")
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="length of the wrk runs around the alias move and the failed load (default: the longer of --seconds "
        "and 3 reload intervals + 6 s; a shorter one still measures, over part of the move)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="A B A B rounds (default 3; quick 1)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "many", help="registry, logs")
    parser.add_argument("--results", type=Path, default=HERE / "results-many-models.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("mlflow", "alembic", "training", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"error: {', '.join(missing)} not on PATH (`make system-deps`)")
    count = args.count or (10 if args.quick else 100)
    sizes = tuple(sorted({k for k in ((1, 5, count) if args.quick else (1, 10, 50, count)) if k <= count}))
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    rounds = args.rounds or (1 if args.quick else 3)
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()

    registry = mlflow_server(out)
    registry.start()
    figures = Figures(count=count, seconds=seconds, rounds=rounds, window_s=args.window)
    try:
        registry.wait_ready(timeout=600)
        beside_load(registry)  # the registry off the predictors' CPU: bench/many_alone.py
        models = register_many(registry.url, count, sizes)
        ManyBench(models, registry.url, out, figures).run(sizes)
    except Exception as exc:  # the table says what could not be measured, and why
        log.exception("the many-models bench stopped")
        figures.problems.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        registry.stop()

    header = (
        f"`python -m bench --many-models{' --quick' if args.quick else ''}` on {started:%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()} with {os.cpu_count()} CPUs; the predictor pinned to CPU 0, wrk (1 thread) and the "
        f"MLflow server to CPU 1, loopback; {seconds:g} s per wrk run, {rounds} round(s) A B A B, each server "
        f"measured alone (the other stopped, bench/many_alone.py). Load average before/after: "
        f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f} (other work on the machine shows here)."
    )
    text = "\n".join(many_report.document(figures, header))
    args.results.write_text(text)
    args.results.with_suffix(".json").write_text(json.dumps(figures.as_dict(), indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
