"""The drift benchmark: `python -m bench.drift.run [--rounds 3]` writes `bench/drift/results.md` and the drift
section of `bench/results.md`.

Five checks of the same data, each a fresh process, interleaved in every round because this machine's
speed drifts within minutes; figures are medians over the rounds, ratios medians of per-round ratios:
ours against an MLflow tracking server as the first check of a version and as a later one, ours as a
later check against the local sqlite store directly, Evidently's preset and its KS/chi-square set-up.
Wall time covers the whole process (imports, reading, tests, report, and for ours the MLflow run);
peak RSS is the process's own high-water mark (`wait4`), threads included.

The first check of a version loads the model to predict the reference rows and stores the predictions
beside the reference (`drift/reference_predictions.py`); later checks read them. The benchmark deletes
the stored file before every "first check" run, so both cases are measured each round.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.drift import bytecode
from bench.drift.data import END, MODEL, prepare
from bench.drift.evidently_env import ensure_evidently
from bench.drift.report import CHECKS, FIRST, KS_CHI2, LATER, LATER_SQLITE, PRESET, write_results
from bench.drift.tracking_server import group_cpu_seconds, tracking_server

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench" / "out" / "drift"


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: float
    result: dict[str, Any]
    server_cpu_s: float | None = None
    """CPU the MLflow tracking server spent while this check ran (checks that talk to it)."""


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> Measured:
    """Run one process to the end; its wall time, peak RSS and the JSON of its last stdout line."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        lines = stdout.read().decode(errors="replace").strip().splitlines()
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"{command[:4]} failed ({process.returncode}): {stderr.read().decode()[-3000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024, json.loads(lines[-1]))


def stored_predictions(paths: dict[str, str]) -> Path:
    """Where the first check stores the reference predictions: the Production version's run, locally."""
    from mlflow import MlflowClient

    client = MlflowClient(paths["tracking_uri"])
    run_id = client.get_model_version_by_alias(MODEL, "Production").run_id
    artifacts = client.get_run(str(run_id)).info.artifact_uri.removeprefix("file://")
    return Path(artifacts) / "reference" / "predictions.parquet"


Command = tuple[list[str], dict[str, str]]


def commands(paths: dict[str, str], evidently: Path, server_uri: str, base: dict[str, str]) -> dict[str, Command]:
    ours = [
        sys.executable, "-m", "drift", "run", "--model-uri", f"models:/{MODEL}@Production",
        "--capture-uri", paths["capture"], "--window", "24h", "--window-end", END.isoformat(),
    ]  # fmt: skip
    served = {**base, "MLFLOW_TRACKING_URI": server_uri, "PYTHONPATH": str(REPO)}
    local = {**served, "MLFLOW_TRACKING_URI": paths["tracking_uri"]}
    script = str(Path(__file__).with_name("evidently_run.py"))
    html = str(OUT / "evidently.html")
    return {
        FIRST: (ours, served),
        LATER: (ours, served),
        LATER_SQLITE: (ours, local),
        PRESET: ([str(evidently), script, paths["reference"], paths["capture"], "preset", html], base),
        KS_CHI2: ([str(evidently), script, paths["reference"], paths["capture"], "ks-chisquare", html], base),
    }


def run_rounds(rounds: int, mode: str) -> tuple[dict[str, list[Measured]], dict[str, Any]]:
    print("preparing data (once; cached in bench/out/drift)", flush=True)
    paths = prepare(OUT)
    evidently = ensure_evidently()
    stored = stored_predictions(paths)
    extra = {"DO_NOT_TRACK": "true", **bytecode.bytecode_env(mode, OUT / "pycache")}  # no usage pings
    base = bytecode.apply({k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CAPTURE_"))}, extra)
    with tracking_server(OUT, paths["tracking_uri"], extra) as server:
        checks = commands(paths, evidently, server.uri, base)
        group = server.proc.pid if server.proc else 0

        def run(name: str) -> Measured:
            if name == FIRST:
                stored.unlink(missing_ok=True)
            command, env = checks[name]
            before = group_cpu_seconds(group)
            measured = measure(command, OUT, env)
            if env.get("MLFLOW_TRACKING_URI") == server.uri:
                measured = replace(measured, server_cpu_s=group_cpu_seconds(group) - before)
            return measured

        warm = {name: functools.partial(run, name) for name in (FIRST, PRESET)}
        print(f"warm-up runs (unmeasured): {', '.join(bytecode.warm_up(OUT / 'pycache', mode, warm)) or 'none'}")
        run(LATER)  # the server's first requests import and connect: not part of any check
        load = [os.getloadavg()[0]]
        runs: dict[str, list[Measured]] = {name: [] for name in CHECKS}
        for round_number in range(1, rounds + 1):
            for name in checks:
                runs[name].append(measured := run(name))
                load.append(os.getloadavg()[0])
                print(f"round {round_number} {name}: {measured.seconds:.1f} s, {measured.peak_rss_mib:.0f} MiB")
    return runs, {"bytecode": mode, "load_average": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--bytecode",
        choices=bytecode.MODES,
        default=bytecode.COMPILED,
        help="compiled: every check runs with cached .pyc, as in the project's image (default); "
        "source: every import compiles from source, as in this machine's environments",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the results from the last runs.json")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((OUT / "runs.json").read_text())
        runs = {name: [Measured(**m) for m in saved["runs"][name]] for name in CHECKS}
        write_results(REPO / "bench", runs, saved["conditions"])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    os.chdir(OUT)  # the training pipeline and the drift job keep sqlite artifacts under ./mlartifacts
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    runs, conditions = run_rounds(args.rounds, args.bytecode)
    saved_runs = {name: [asdict(m) for m in ms] for name, ms in runs.items()}
    (OUT / "runs.json").write_text(json.dumps({"runs": saved_runs, "conditions": conditions}))
    write_results(REPO / "bench", runs, conditions)
    print("wrote bench/drift/results.md and the drift section of bench/results.md")


if __name__ == "__main__":
    main()
