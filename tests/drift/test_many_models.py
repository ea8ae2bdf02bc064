"""One drift job over several models (`--model-filter`): a verdict, an MLflow run, a Pushgateway group, a
retraining and a cooldown per model, and a model whose check cannot run leaves the others checked."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from prometheus_client.parser import text_string_to_metric_families

from drift import each_model
from drift.cli import parse_command_line
from drift.retrain import LAST_RETRAIN_AT, claim
from tests.drift.capture_files import write_capture
from tests.drift.drift_process import END, ZeroPredictor, demo_rows, finish_drift, start_drift
from tests.drift.pushgateway import Pushgateway
from tests.processes import MlflowServer
from training.data import load_demo_frame
from training.train import train_and_register

CAPTURED = {"drifted": (2_000, True), "cooling": (2_000, True), "steady": (2_000, False), "few": (100, False)}
"""Each checked model's captured rows: how many, and whether shifted."""


def _register_same_run(client: MlflowClient, name: str, trained: ModelVersion) -> None:
    """Another registered model served from a trained run, so it shares that run's reference rows."""
    mlflow.set_tracking_uri(client.tracking_uri)
    version = mlflow.register_model(trained.source, name)
    client.set_registered_model_alias(name, "Production", version.version)


def _without_reference(client: MlflowClient, name: str) -> None:
    """A registered version whose run logged no reference artifact: its check cannot run."""
    run = client.create_run(client.create_experiment(f"bare-{uuid.uuid4().hex[:8]}"))
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "Production", version.version)


def _gateway_samples(gateway: Pushgateway) -> dict[tuple[str, str], float]:
    """`(metric, model) -> value` of the model-level drift metrics on the gateway."""
    samples = {}
    for family in text_string_to_metric_families(gateway.metrics_text()):
        for sample in family.samples:
            if sample.name.startswith("drift_") and "feature" not in sample.labels:
                samples[(sample.name, sample.labels["model"])] = sample.value
    return samples


@pytest.mark.slow
def test_one_job_checks_every_selected_model_on_its_own(
    mlflow_server: MlflowServer, tmp_path: Path, start_pushgateway: Callable[[], Pushgateway]
) -> None:
    client = MlflowClient(mlflow_server.uri)
    prefix = f"many-{uuid.uuid4().hex[:8]}"
    name = {key: f"{prefix}-{key}" for key in (*CAPTURED, "broken")}
    frame = load_demo_frame()
    trained = train_and_register(name["drifted"], frame, "target", alias="Production", tracking_uri=mlflow_server.uri)
    version = client.get_model_version(name["drifted"], str(trained.version))
    for key in ("cooling", "steady", "few"):
        _register_same_run(client, name[key], version)
    _without_reference(client, name["broken"])
    # "cooling" retrained a moment ago, and a claim of an older retraining of it matches the filter too.
    recently = datetime.now(UTC).isoformat()
    client.set_registered_model_tag(name["cooling"], LAST_RETRAIN_AT, recently)
    assert claim(client, name["cooling"], "2026-01-01T00:00:00+00:00", "an-older-drift-run")
    for key, (rows, shifted) in CAPTURED.items():
        inputs = demo_rows(frame, rows, shifted, seed=len(key))
        stamp = END - timedelta(minutes=5)
        write_capture(tmp_path / "capture", name[key], inputs, stamp, predictions=ZeroPredictor().predict(inputs))
    frame.to_parquet(tmp_path / f"{name['drifted']}.parquet")  # only the drifted model retrains: its data only
    gateway = start_pushgateway()

    args = [
        "--model-filter", f"name LIKE '{prefix}-%'", "--capture-uri", str(tmp_path / "capture"),
        "--pushgateway", gateway.url, "--retrain", "--retrain-data", str(tmp_path / "{model}.parquet"),
        "--target", "target", "--cooldown", "1h",
    ]  # fmt: skip
    outcome = finish_drift({"job": start_drift(args, MLFLOW_TRACKING_URI=mlflow_server.uri)})["job"]

    summary = outcome.result
    per_model = [json.loads(line) for line in outcome.stdout.splitlines() if line.startswith('{"status": ')]
    by_model: dict[str, dict[str, Any]] = {line["model"]: line for line in per_model}
    assert list(by_model) == sorted(name.values()), "one line per selected model; the claim is not a model"
    assert outcome.code == 1, "a model whose check could not run makes the job's exit code 1"
    last_error = outcome.stderr.strip().splitlines()[-1]  # the retraining's own output comes before it
    assert last_error == f"drift: could not check {name['broken']} (4 of 5 models checked)", outcome.stderr

    broken = by_model[name["broken"]]
    assert (broken["status"], broken["model_uri"]) == ("failed", f"models:/{name['broken']}@Production")
    assert "reference/reference.parquet" in broken["error"]
    verdicts = {key: by_model[name[key]]["drift_detected"] for key in CAPTURED}
    assert verdicts == {"drifted": True, "cooling": True, "steady": False, "few": None}, outcome.stdout[-3000:]

    run_ids = {key: by_model[name[key]]["run_id"] for key in CAPTURED}
    assert len(set(run_ids.values())) == len(CAPTURED)
    for key, run_id in run_ids.items():
        run = client.get_run(run_id)
        assert client.get_experiment(run.info.experiment_id).name == f"drift-{name[key]}"
        assert run.info.status == "FINISHED"
        assert "drift_report.html" in {a.path for a in client.list_artifacts(run_id)}

    retrain = {key: by_model[name[key]]["retrain"] for key in CAPTURED}
    assert (retrain["drifted"]["triggered"], retrain["drifted"]["status"]) == (True, "finished"), retrain
    assert retrain["cooling"]["triggered"] is False
    assert retrain["cooling"]["reason"].startswith("cooldown until "), retrain["cooling"]
    assert retrain["steady"] == {"triggered": False, "reason": "no drift detected"}
    assert retrain["few"] == {"triggered": False, "reason": "insufficient data"}
    assert client.get_registered_model(name["drifted"]).tags["aliasserve.last_retrain_drift_run"] == run_ids["drifted"]
    assert client.get_registered_model(name["cooling"]).tags[LAST_RETRAIN_AT] == recently
    assert LAST_RETRAIN_AT not in client.get_registered_model(name["steady"]).tags

    assert summary["models"] == len(name)
    assert (summary["drift"], summary["no_drift"]) == (sorted([name["cooling"], name["drifted"]]), [name["steady"]])
    assert (summary["insufficient_data"], summary["retrain_triggered"]) == ([name["few"]], [name["drifted"]])
    assert (list(summary["failed"]), summary["exit_code"]) == ([name["broken"]], 1)

    samples = _gateway_samples(gateway)
    assert samples[("drift_detected", name["drifted"])] == 1.0
    assert samples[("drift_detected", name["steady"])] == 0.0
    assert ("drift_detected", name["few"]) not in samples
    assert samples[("drift_current_rows", name["few"])] == 100
    assert samples[("drift_retrain_triggered", name["drifted"])] == 1.0
    assert samples[("drift_retrain_triggered", name["cooling"])] == 0.0
    assert samples[("drift_check_failed", name["broken"])] == 1.0
    assert samples[("drift_check_failed", name["steady"])] == 0.0


def test_no_check_starts_once_the_time_budget_is_spent(
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    start_pushgateway: Callable[[], Pushgateway],
) -> None:
    """The budget's clock jumps an hour after the first check started: the second model is skipped."""
    gateway = start_pushgateway()
    readings = iter([0.0, 0.0, 3600.0])
    monkeypatch.setattr(each_model, "_clock", lambda: next(readings))
    uris = "models:/no-such-model-a@Production,models:/no-such-model-b@Production"
    argv = ["run", "--model-uri", uris, "--time-budget", "10m", "--capture-uri", "unused", "--pushgateway", gateway.url]
    settings = parse_command_line(argv, {"MLFLOW_TRACKING_URI": mlflow_server.uri})
    assert settings.selection is not None

    assert each_model.check_each_model(settings, settings.selection) == 1

    out = capsys.readouterr()
    *lines, summary = [json.loads(line) for line in out.out.splitlines() if line.startswith("{")]
    assert [(line["model"], line["status"]) for line in lines] == [
        ("no-such-model-a", "failed"),
        ("no-such-model-b", "skipped"),
    ]
    assert "unknown model 'no-such-model-a'" in lines[0]["error"]
    assert lines[1]["error"] == "time budget of 10m spent before its check started"
    assert (summary["skipped"], summary["exit_code"]) == (["no-such-model-b"], 1)
    assert out.err.strip() == "drift: could not check no-such-model-a, no-such-model-b (0 of 2 models checked)"
    samples = _gateway_samples(gateway)
    assert samples[("drift_check_failed", "no-such-model-a")] == samples[("drift_check_failed", "no-such-model-b")] == 1
