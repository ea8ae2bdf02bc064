"""A short headless locust run (loadtests/locustfile.py) against a real predictor, alias moves included."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import RegisteredModel
from tests.processes import REPO, RunningService, base_env

RUN_SECONDS = 30  # users download the reference data first: leave them time to send


def two_versions(demo_model: RegisteredModel) -> tuple[str, list[str]]:
    """A fresh name with two versions of the demo model (same artifacts, so no training); Production on the first."""
    client = MlflowClient(demo_model.tracking_uri)
    source = client.get_model_version(demo_model.name, demo_model.version).source  # models:/m-<logged model id>
    assert source is not None
    name = f"load-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    versions = [
        client.create_model_version(
            name, source, run_id=demo_model.run_id, model_id=source.removeprefix("models:/")
        ).version
        for _ in range(2)
    ]
    client.set_registered_model_alias(name, "Production", versions[0])
    return name, [str(v) for v in versions]


def test_locust_run_with_alias_moves_fails_no_request(
    demo_model: RegisteredModel, start_service: Callable[..., RunningService], tmp_path: Path
) -> None:
    name, versions = two_versions(demo_model)
    service = start_service(
        {
            "MODEL_URI": f"models:/{name}@Production",
            "MLFLOW_TRACKING_URI": demo_model.tracking_uri,
            "RELOAD_INTERVAL_S": "0.5",
        }
    )
    summary = tmp_path / "summary.json"
    command = [
        sys.executable, "-m", "locust", "-f", str(REPO / "loadtests" / "locustfile.py"), "--headless",
        "--only-summary", "--host", service.url, "--users", "6", "--spawn-rate", "6",
        "--run-time", f"{RUN_SECONDS}s", "--stop-timeout", "5", "--csv", str(tmp_path / "load"),
        "--tracking-uri", demo_model.tracking_uri, "--move-every", "2", "--summary-file", str(summary),
        "SteadyUser", "BurstUser", "AliasMover",
    ]  # fmt: skip
    done = subprocess.run(
        command, check=False, env=base_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]

    with open(tmp_path / "load_stats.csv", newline="") as file:
        totals = next(row for row in csv.DictReader(file) if row["Name"] == "Aggregated")
    assert int(totals["Request Count"]) > 0
    assert int(totals["Failure Count"]) == 0
    result = json.loads(summary.read_text())
    assert result["failures"] == 0
    assert result["alias_moves"] >= 1
    assert sum(result["versions_seen"].values()) > 0
    assert set(result["versions_seen"]) <= set(versions)
    assert MlflowClient(demo_model.tracking_uri).get_model_version_by_alias(name, "Production").version == versions[0]
