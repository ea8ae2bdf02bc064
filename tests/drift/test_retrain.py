"""`--retrain`: drift starts the project's `train` entry point once, even when two checks run at once; a
later check inside the cooldown does not."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from drift.retrain import claim
from tests.drift.capture_files import write_capture
from tests.drift.drift_process import END, ZeroPredictor, demo_rows, finish_drift, start_drift
from tests.processes import MlflowServer
from training.data import load_demo_frame
from training.train import train_and_register


@pytest.mark.slow
def test_two_drift_jobs_at_once_retrain_once_and_the_cooldown_stops_a_later_one(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    name = f"retrain-{uuid.uuid4().hex[:8]}"
    frame = load_demo_frame()
    first = train_and_register(name, frame, "target", alias="Production", tracking_uri=mlflow_server.uri)
    data = tmp_path / "train.parquet"
    frame.to_parquet(data)
    rows = demo_rows(frame, 2_000, True, 5)
    write_capture(
        tmp_path / "capture",
        name,
        rows,
        END - timedelta(minutes=5),
        version=str(first.version),
        predictions=ZeroPredictor().predict(rows),
    )
    args = [
        "--model-uri", f"models:/{name}@Production", "--capture-uri", str(tmp_path / "capture"),
        "--retrain", "--retrain-data", str(data), "--target", "target", "--cooldown", "1h",
    ]  # fmt: skip
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}

    both = finish_drift({"a": start_drift(args, **env), "b": start_drift(args, **env)})
    for outcome in both.values():
        assert outcome.code == 0, (outcome.stdout[-3000:], outcome.stderr)
        assert outcome.result["drift_detected"] is True
    triggered = {job: o.result["retrain"]["triggered"] for job, o in both.items()}
    assert sorted(triggered.values()) == [False, True], triggered
    retrained, refused = (both["a"], both["b"]) if triggered["a"] else (both["b"], both["a"])
    assert refused.result["retrain"]["reason"].startswith("cooldown until "), refused.result["retrain"]
    result = retrained.result
    assert result["drift_detected"] is True
    retrain = result["retrain"]
    assert (retrain["triggered"], retrain["status"], retrain["promoted"]) == (True, "finished", False)
    assert retrain["version"] == str(int(first.version) + 1)

    client = MlflowClient(mlflow_server.uri)
    drift_run_id = result["run_id"]
    assert client.get_model_version(name, str(first.version)).tags["aliasserve.drift_detected"] == drift_run_id
    model_tags = client.get_registered_model(name).tags
    assert model_tags["aliasserve.last_retrain_drift_run"] == drift_run_id
    training_run = client.get_run(retrain["run_id"])
    assert training_run.data.tags["aliasserve.drift_run_id"] == drift_run_id
    assert client.get_model_version_by_alias(name, "Production").version == str(first.version)
    assert client.get_run(drift_run_id).data.tags["retrain_run_id"] == retrain["run_id"]

    again = finish_drift({"again": start_drift(args, **env)})["again"]
    assert again.code == 0, again.stderr
    assert again.result["drift_detected"] is True
    assert again.result["retrain"]["triggered"] is False
    assert again.result["retrain"]["reason"].startswith("cooldown until ")
    mlflow.set_tracking_uri(mlflow_server.uri)
    assert len(client.search_model_versions(f"name='{name}'")) == 2


def test_a_retraining_is_claimed_once_per_cooldown_value_read(mlflow_server: MlflowServer) -> None:
    """Two jobs that read the same `last_retrain_at`, whatever their timing: the registry lets one claim it."""
    client = MlflowClient(mlflow_server.uri)
    name = f"claim-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)

    assert claim(client, name, None, "run-a") is True
    assert claim(client, name, None, "run-b") is False
    assert claim(client, name, "2026-03-01T12:00:00+00:00", "run-c") is True
    assert claim(client, name, "2026-03-01T12:00:00+00:00", "run-d") is False
    claims = client.search_registered_models(f"tags.`aliasserve.retrain_claim_for` = '{name}'")
    assert sorted(c.tags["aliasserve.last_retrain_drift_run"] for c in claims) == ["run-a", "run-c"]
