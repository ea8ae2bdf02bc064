"""`make demo-loop`: the whole loop on the embedded registry in a couple of minutes.

1. seeds `demo@Production` (if needed) and starts the predictor following it;
2. sends traffic that has drifted (bigger tumours, a different size mix) and lets it be captured;
3. runs the drift job with `--retrain --promote`: the KS/chi-square tests flag the shifted features, the
   `train` entry point runs through MLflow Projects on labeled recent data, the gate compares challenger
   and champion, and `Production` moves;
4. the running predictor follows the alias: no request fails, the new version answers;
5. prints what to look at in the MLflow UI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
PORT = int(os.environ.get("DEMO_LOOP_PORT", "8001"))
URL = f"http://127.0.0.1:{PORT}"


def say(message: str) -> None:
    print(f"\n>> {message}", flush=True)


def drifted(frame: pd.DataFrame, n: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = frame.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)
    for column in ("mean_radius", "mean_texture", "worst_area"):
        rows[column] += 0.8 * frame[column].std() + rng.normal(0, 0.05 * frame[column].std(), n)
    rows.loc[rng.random(n) < 0.3, "size_band"] = "large"
    return rows


def run(*args: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"`python -m {' '.join(args)}` failed:\n{result.stderr[-2000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def wait_for(predicate: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


class Traffic(threading.Thread):
    """Four clients sending drifted rows until told to stop; counts answers by status and version."""

    def __init__(self, rows: pd.DataFrame) -> None:
        super().__init__(daemon=True)
        features = rows.drop(columns="target")
        self.bodies = [
            json.dumps({"dataframe_split": json.loads(features.iloc[i : i + 10].to_json(orient="split", index=False))})
            for i in range(0, len(features), 10)
        ]
        self.seen: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        workers = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _client(self, offset: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = offset
            while not self.stop.is_set():
                response = client.post(
                    f"{URL}/invocations",
                    content=self.bodies[i % len(self.bodies)],
                    headers={"Content-Type": "application/json"},
                )
                key = response.headers.get("x-model-version", "?") if response.status_code == 200 else "failed"
                self.seen[key] += 1
                i += 4


def main() -> None:
    from training.data import load_demo_frame

    WORK.mkdir(exist_ok=True)
    say("seeding demo@Production in the embedded registry (sqlite:///mlflow.db)")
    run("training", "seed-demo")
    frame = load_demo_frame()
    recent = drifted(frame)
    labeled = WORK / "recent-labeled.parquet"
    recent.to_parquet(labeled)
    capture = WORK / "capture"
    say(f"starting the predictor on {URL}, following models:/demo@Production every second")
    env = {
        **os.environ,
        "MODEL_URI": "models:/demo@Production",
        "PORT": str(PORT),
        "HOST": "127.0.0.1",
        "RELOAD_INTERVAL_S": "1",
        "CAPTURE_URI": str(capture),
        "CAPTURE_FLUSH_INTERVAL_S": "2",
        "LOG_FORMAT": "text",
    }
    service = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=env)
    try:
        wait_for(lambda: httpx.get(f"{URL}/health/ready").status_code == 200, "the predictor to be ready")
        before = httpx.get(f"{URL}/model").json()["version"]
        say(f"serving version {before}; sending drifted traffic (4 clients)")
        traffic = Traffic(recent)
        traffic.start()
        wait_for(lambda: sum(traffic.seen.values()) >= 300, "traffic to be captured")
        time.sleep(3)  # one capture flush interval, so the window holds the rows just sent
        say("running the drift job: python -m drift run --retrain --promote ...")
        verdict = run(
            "drift",
            "run",
            "--model-uri",
            "models:/demo@Production",
            "--capture-uri",
            str(capture),
            "--window",
            "1h",
            "--min-rows",
            "200",
            "--retrain",
            "--retrain-data",
            str(labeled),
            "--target",
            "target",
            "--promote",
            "--cooldown",
            "1m",
        )
        drifted_features = [name for name, f in verdict["features"].items() if f["drifted"]]  # type: ignore[union-attr]
        print(f"   drift_detected={verdict['drift_detected']}  drifted features: {', '.join(drifted_features)}")
        print(f"   retrain: {json.dumps(verdict['retrain'])}")
        say("waiting for the predictor to follow the alias")
        wait_for(lambda: httpx.get(f"{URL}/model").json()["version"] != before, "the new version", timeout=60)
        time.sleep(2)
        traffic.stop.set()
        traffic.join(timeout=10)
        after = httpx.get(f"{URL}/model").json()["version"]
        say(f"now serving version {after} (was {before}); answers by version: {dict(traffic.seen)}")
        if traffic.seen.get("failed"):
            sys.exit("some requests failed")
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
    say(
        "what to look at: `.venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db`, then open http://127.0.0.1:5000"
    )
    print("   - Experiments > drift-demo: the drift run, per-feature p-values, drift_report.html (Artifacts)")
    print("   - Experiments > training-demo: the retraining run, tagged aliasserve.drift_run_id, gate.* scores")
    print("   - Models > demo: aliases Production (new), Previous (old); the drifted version's tag")
    print("   - roll back with: .venv/bin/python -m training rollback --model-name demo")


if __name__ == "__main__":
    main()
