"""The whole loop on real parts: shifted traffic -> drift -> retraining through MLflow Projects -> gate ->
promotion -> the running service switches with no failed request -> rollback -> the old version again."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import REPO, MlflowServer, RunningService, base_env
from tests.service.test_following import metric_value, register_versions
from tests.traffic import Traffic


def shifted(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The demo data a year later: bigger tumours, a different size mix; labels as they were."""
    rng = np.random.default_rng(seed)
    moved = frame.sample(n=2000, replace=True, random_state=seed).reset_index(drop=True)
    for column in ("mean_radius", "mean_texture", "worst_area"):
        moved[column] = (
            moved[column] + 0.8 * frame[column].std() + rng.normal(0, 0.05 * frame[column].std(), len(moved))
        )
    moved.loc[rng.random(len(moved)) < 0.3, "size_band"] = "large"
    return moved


def bodies(rows: pd.DataFrame, per_request: int = 5) -> list[bytes]:
    features = rows.drop(columns="target")
    return [
        json.dumps({"dataframe_split": json.loads(chunk.to_json(orient="split", index=False))}).encode()
        for chunk in (features.iloc[i : i + per_request] for i in range(0, len(features), per_request))
    ]


def run(module: str, *args: str, tracking_uri: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=base_env(MLFLOW_TRACKING_URI=tracking_uri),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_drift_retrains_promotes_and_rolls_back_with_no_failed_request(
    demo_model: RegisteredModel,
    mlflow_server: MlflowServer,
    tmp_path: Path,
    start_service: Callable[..., RunningService],
) -> None:
    v = register_versions(mlflow_server, demo_model, 1, trained=1)  # the drift job reads its run
    original = v.versions[0]
    later = shifted(demo_model.frame)
    labeled = tmp_path / "labeled.parquet"
    later.to_parquet(labeled)
    capture = tmp_path / "capture"
    service = start_service(
        {
            "MODEL_URI": v.uri,
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0.5",
            "CAPTURE_URI": str(capture),
            "CAPTURE_FLUSH_ROWS": "500",
            "CAPTURE_FLUSH_INTERVAL_S": "1",
        }
    )
    with Traffic(f"{service.url}/invocations", bodies(later), clients=8, max_seconds=400) as traffic:
        wait_until(lambda: metric_value(service, "capture_rows_total") >= 1500, timeout=120, what="captured rows")
        verdict = run(
            "drift",
            "run",
            "--model-uri",
            v.uri,
            "--capture-uri",
            str(capture),
            "--window",
            "1h",
            "--min-rows",
            "500",
            "--retrain",
            "--retrain-data",
            str(labeled),
            "--target",
            "target",
            "--promote",
            tracking_uri=mlflow_server.uri,
        )
        assert verdict["drift_detected"] is True
        assert verdict["features"]["mean_radius"]["drifted"] is True
        assert verdict["retrain"]["triggered"] is True, verdict["retrain"]
        production = v.client.get_model_version_by_alias(v.name, "Production").version
        assert production != original
        wait_until(lambda: traffic.last_version == production, timeout=120, what="the retrained version serving")
        retraining_run = v.client.get_run(v.client.get_model_version(v.name, production).run_id)
        assert retraining_run.data.tags["aliasserve.drift_run_id"] == verdict["run_id"]

        rolled = run("training", "rollback", "--model-name", v.name, tracking_uri=mlflow_server.uri)
        assert (rolled["production"], rolled["previous"]) == (original, production)
        assert v.client.get_model_version_by_alias(v.name, "Production").version == original
        wait_until(lambda: traffic.last_version == original, timeout=120, what="the rollback serving")
    assert traffic.failures == []
    assert set(traffic.versions) == {original, production}
    assert httpx.get(f"{service.url}/model").json()["version"] == original
