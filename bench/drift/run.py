"""The drift benchmark: `python -m bench.drift.run [--rounds 3]` writes `bench/drift/results.md`.

Three checks of the same data, each a fresh process, interleaved (ours, Evidently preset, Evidently
KS/chi-square, then again) because this machine's speed drifts within minutes; figures are medians over
the rounds. Wall time covers the whole process (imports, reading, tests, report, and for ours the MLflow
run in a local sqlite store); peak RSS is the process's own high-water mark (`wait4`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.drift.data import END, MODEL, prepare
from bench.drift.evidently_env import ensure_evidently
from bench.drift.report import write_results

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench" / "out" / "drift"
OURS, PRESET, KS_CHI2 = "ours", "evidently-preset", "evidently-ks-chisquare"


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: float
    result: dict[str, Any]


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


def commands(paths: dict[str, str], evidently: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CAPTURE_"))}
    ours = [
        sys.executable, "-m", "drift", "run", "--model-uri", f"models:/{MODEL}@Production",
        "--capture-uri", paths["capture"], "--window", "24h", "--window-end", END.isoformat(),
    ]  # fmt: skip
    ours_env = {**base, "MLFLOW_TRACKING_URI": paths["tracking_uri"], "PYTHONPATH": str(REPO)}
    script = str(Path(__file__).with_name("evidently_run.py"))
    html = str(OUT / "evidently.html")
    return {
        OURS: (ours, ours_env),
        PRESET: ([str(evidently), script, paths["reference"], paths["capture"], "preset", html], base),
        KS_CHI2: ([str(evidently), script, paths["reference"], paths["capture"], "ks-chisquare", html], base),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report-only", action="store_true", help="rewrite results.md from the last runs.json")
    args = parser.parse_args()
    target = REPO / "bench" / "drift" / "results.md"
    if args.report_only:
        saved = json.loads((OUT / "runs.json").read_text())
        write_results(target, {name: [Measured(**m) for m in ms] for name, ms in saved.items()})
        return
    OUT.mkdir(parents=True, exist_ok=True)
    os.chdir(OUT)  # the training pipeline and the drift job keep sqlite artifacts under ./mlartifacts
    print("preparing data (once; cached in bench/out/drift)", flush=True)
    paths = prepare(OUT)
    evidently = ensure_evidently()
    runs: dict[str, list[Measured]] = {name: [] for name in (OURS, PRESET, KS_CHI2)}
    for round_number in range(1, args.rounds + 1):
        for name, (command, env) in commands(paths, evidently).items():
            measured = measure(command, OUT, env)
            runs[name].append(measured)
            print(f"round {round_number} {name}: {measured.seconds:.1f} s, {measured.peak_rss_mib:.0f} MiB", flush=True)
    (OUT / "runs.json").write_text(json.dumps({name: [asdict(m) for m in ms] for name, ms in runs.items()}))
    write_results(target, runs)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
