"""`python -m drift run` end to end against a real MLflow server and capture files written per contract."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from drift import DriftError
from drift.cli import parse_command_line
from drift.job import run_drift_check
from tests.conftest import RegisteredModel
from tests.drift.capture_files import write_capture
from tests.drift.drift_process import END, Outcome, ZeroPredictor, demo_rows, finish_drift, start_drift
from tests.helpers import free_port
from tests.processes import MlflowServer

SHIFTED = {"mean_radius", "mean_smoothness", "size_band"}


def _write(root: Path, model: RegisteredModel, rows: pd.DataFrame, predictor: Any) -> Path:
    stamps = [END - timedelta(minutes=float(m)) for m in np.linspace(1, 300, len(rows))]
    write_capture(
        root, model.name, rows, stamps, version=model.version, predictions=predictor.predict(rows), rows_per_file=500
    )
    return root


@pytest.fixture(scope="module")
def captures(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    mlflow.set_tracking_uri(demo_model.tracking_uri)
    predictor = mlflow.pyfunc.load_model(f"models:/{demo_model.name}/{demo_model.version}")
    root = tmp_path_factory.mktemp("captures")
    frame = demo_model.frame
    return {
        "shifted": _write(root / "shifted", demo_model, demo_rows(frame, 3_000, True, 1), predictor),
        "unshifted": _write(root / "unshifted", demo_model, demo_rows(frame, 3_000, False, 2), predictor),
        "few": _write(root / "few", demo_model, demo_rows(frame, 100, False, 3), predictor),
        "renamed": _write(
            root / "renamed",
            demo_model,
            demo_rows(frame, 600, False, 4).rename(columns={"mean_radius": "radius_mean"}),
            ZeroPredictor(),
        ),
    }


@pytest.fixture(scope="module")
def runs(demo_model: RegisteredModel, captures: dict[str, Path]) -> dict[str, Outcome]:
    uri, env = demo_model.uri, {"MLFLOW_TRACKING_URI": demo_model.tracking_uri}
    return finish_drift(
        {
            name: start_drift(["--model-uri", uri, "--capture-uri", str(captures[name]), "--window", "6h"], **env)
            for name in ("shifted", "unshifted", "few")
        }
    )


def test_shifted_columns_and_only_those_are_flagged(runs: dict[str, Outcome], demo_model: RegisteredModel) -> None:
    outcome = runs["shifted"]
    assert outcome.code == 0, outcome.stderr
    result = outcome.result
    assert result["drift_detected"] is True
    assert {name for name, f in result["features"].items() if f["drifted"]} == SHIFTED
    assert result["features"]["size_band"]["test"] == "chi2"
    assert result["features"]["mean_radius"]["test"] == "ks"
    assert (result["model"], result["model_version"]) == (demo_model.name, demo_model.version)
    assert result["reference_rows"] == len(demo_model.frame)
    assert result["current_rows"] == 3_000
    assert result["corrupt_files"] == 0
    assert result["window"]["length"] == "6h"
    assert result["drift_share_of_drifted_features"] == pytest.approx(3 / 31)
    assert result["retrain"] == {"triggered": False, "reason": "not requested"}
    assert result["prediction"]["counted"] is False
    assert "capture:" in outcome.stdout  # progress lines precede the JSON line
    print("drift job step timings (s):", result["timings_s"])


def test_the_drift_run_is_recorded_in_mlflow_with_metrics_and_both_reports(
    runs: dict[str, Outcome], demo_model: RegisteredModel, tmp_path: Path
) -> None:
    result = runs["shifted"].result
    client = MlflowClient(demo_model.tracking_uri)
    run = client.get_run(result["run_id"])
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == f"drift-{demo_model.name}"
    assert run.info.status == "FINISHED"
    metrics, params = run.data.metrics, run.data.params
    assert metrics["mean_radius.statistic"] == pytest.approx(result["features"]["mean_radius"]["statistic"])
    assert metrics["mean_radius.p_value"] == pytest.approx(result["features"]["mean_radius"]["p_value"])
    assert metrics["size_band.drifted"] == 1.0
    assert metrics["mean_texture.drifted"] == 0.0
    assert metrics["drift_detected"] == 1.0
    assert run.data.tags["drift_detected"] == "true"
    assert (params["window"], params["alpha"], params["correction"]) == ("6h", "0.05", "bonferroni")
    assert (params["model_version"], params["rows"], params["min_rows"]) == (demo_model.version, "3000", "500")
    assert {a.path for a in client.list_artifacts(result["run_id"])} >= {"drift_report.json", "drift_report.html"}
    html = Path(client.download_artifacts(result["run_id"], "drift_report.html", str(tmp_path))).read_text()
    assert html.count("<svg ") == 31 + 1  # every feature and the prediction
    report = json.loads(
        Path(client.download_artifacts(result["run_id"], "drift_report.json", str(tmp_path))).read_text()
    )
    assert report["features"] == result["features"]


def test_checks_read_the_reference_predictions_training_stored(
    runs: dict[str, Outcome], demo_model: RegisteredModel, captures: dict[str, Path]
) -> None:
    """Training logged the version's predictions on its reference rows: every check reads them instead of
    loading the model, and compares the same predictions. (Versions trained elsewhere, without the file:
    tests/drift/test_reference_predictions.py.)"""
    first = runs["unshifted"]
    for outcome in runs.values():
        assert "stored the reference predictions" not in outcome.stdout
    assert "reference predictions: read from reference/predictions.parquet" in first.stdout
    client = MlflowClient(demo_model.tracking_uri)
    assert "reference/predictions.parquet" in {a.path for a in client.list_artifacts(demo_model.run_id, "reference")}
    args = ["--model-uri", demo_model.uri, "--capture-uri", str(captures["unshifted"]), "--window", "6h"]
    later = finish_drift({"later": start_drift(args, MLFLOW_TRACKING_URI=demo_model.tracking_uri)})["later"]
    assert later.code == 0, later.stderr
    assert "reference predictions: read from reference/predictions.parquet" in later.stdout
    assert "stored the reference predictions" not in later.stdout
    assert later.result["prediction"] == first.result["prediction"]
    assert later.result["features"] == first.result["features"]


def test_unshifted_data_is_no_drift(runs: dict[str, Outcome]) -> None:
    outcome = runs["unshifted"]
    assert outcome.code == 0, outcome.stderr
    result = outcome.result
    assert result["drift_detected"] is False
    assert not [name for name, f in result["features"].items() if f["drifted"]]
    assert result["prediction"]["drifted"] is False


def test_too_few_rows_give_a_null_verdict_and_exit_zero(runs: dict[str, Outcome]) -> None:
    outcome = runs["few"]
    assert outcome.code == 0, outcome.stderr
    result = outcome.result
    assert result["drift_detected"] is None
    assert result["reason"] == "insufficient data"
    assert result["current_rows"] == 100
    assert result["features"] == {}
    assert result["run_id"]


def test_a_capture_root_not_created_yet_is_insufficient_data_not_an_error(
    demo_model: RegisteredModel, tmp_path: Path
) -> None:
    """The drift job ran before the service flushed (or even created) its capture root."""
    argv = ["run", "--model-uri", demo_model.uri, "--capture-uri", str(tmp_path / "not-created-yet")]
    settings = parse_command_line(argv, {"MLFLOW_TRACKING_URI": demo_model.tracking_uri})
    result = run_drift_check(settings)
    assert result.drift_detected is None
    assert (result.current_rows, result.window_rows, result.corrupt_files) == (0, 0, [])
    assert result.run_id


@pytest.fixture(scope="module")
def model_without_reference(mlflow_server: MlflowServer) -> str:
    """A registered version whose run logged no reference artifact."""
    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"bare-{free_port()}")
    run = client.create_run(experiment)
    name = f"bare-{run.info.run_id[:8]}"
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "Production", version.version)
    return name


BAD_INPUTS: dict[str, tuple[int, str]] = {
    "unknown-model": (1, "unknown model 'no-such-model'"),
    "no-reference-artifact": (1, "reference/reference.parquet"),
    "capture-columns-mismatch": (1, "mean_radius"),
    "tracking-unreachable": (1, "127.0.0.1"),
    "retrain-without-target": (2, "--target"),
}


@pytest.fixture(scope="module")
def bad_runs(
    demo_model: RegisteredModel, captures: dict[str, Path], model_without_reference: str
) -> dict[str, Outcome]:
    """Real processes for one case of each kind; the other ways to fail are checked in-process below."""
    capture = str(captures["unshifted"])
    tracking = {"MLFLOW_TRACKING_URI": demo_model.tracking_uri}
    unreachable = {
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    good = ["--model-uri", demo_model.uri, "--capture-uri", capture]
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "unknown-model": (["--model-uri", "models:/no-such-model@Production", "--capture-uri", capture], tracking),
        "no-reference-artifact": (["--model-uri", f"models:/{model_without_reference}@Production"], tracking),
        "capture-columns-mismatch": (
            ["--model-uri", demo_model.uri, "--capture-uri", str(captures["renamed"]), "--window", "6h"],
            tracking,
        ),
        "tracking-unreachable": (good, unreachable),
        "retrain-without-target": ([*good, "--retrain", "--retrain-data", "x.csv"], tracking),
    }
    return finish_drift({case: start_drift(args, **env) for case, (args, env) in commands.items()})


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_check_that_cannot_run_exits_non_zero_with_one_line(bad_runs: dict[str, Outcome], case: str) -> None:
    outcome = bad_runs[case]
    code, needle = BAD_INPUTS[case]
    assert outcome.code == code, (outcome.stdout[-2000:], outcome.stderr)
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert needle in lines[0]
    assert "Traceback" not in outcome.stderr + outcome.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-uri", "models:/{name}@Staging"], "has no alias 'Staging'"),
        (["--model-uri", "models:/{name}/999"], "has no version 999"),
        (["--model-uri", "models:/{name}@Production", "--categorical", "size_band,nope"], "nope"),
        (["--model-uri", "models:/{name}@Production", "--capture-uri", "{blocked}"], "not a folder"),
    ],
    ids=["unknown-alias", "unknown-version", "unknown-categorical", "capture-root-under-a-file"],
)
def test_other_reasons_a_check_cannot_run_are_drift_errors(
    demo_model: RegisteredModel, captures: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    """These end in the same one-line handler as the cases above (DriftError), without a process each."""
    argv = ["run", "--capture-uri", str(captures["unshifted"])]
    (tmp_path / "file").write_text("a file where a folder must be")
    argv += [a.format(name=demo_model.name, blocked=tmp_path / "file" / "capture") for a in args]
    settings = parse_command_line(argv, {"MLFLOW_TRACKING_URI": demo_model.tracking_uri})
    with pytest.raises(DriftError, match=message):
        run_drift_check(settings)
