"""`python -m training`: seed-demo in an empty directory, train from a file, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier

from tests.helpers import tracking_uri_restored
from tests.processes import MlflowServer
from tests.training.conftest import CliRunner
from training.__main__ import main
from training.data import load_demo_frame, write_frame
from training.registry import PRODUCTION, version_by_alias
from training.train import DRIFT_RUN_TAG, train_and_register


def last_json_line(stdout: str) -> dict[str, object]:
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def call_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`main(argv)` in this process: (exit code, stdout, stderr), argparse's SystemExit included."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_seed_demo_makes_a_registry_in_the_current_directory_once(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_cli("seed-demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = last_json_line(first.stdout)
    assert summary["seeded"] is True
    assert summary["promoted"] is True
    assert (tmp_path / "mlflow.db").is_file()
    assert list(tmp_path.glob("mlartifacts/**/reference/reference.parquet"))
    assert list(tmp_path.glob("mlartifacts/**/MLmodel"))
    assert not (tmp_path / "mlruns").exists()

    with tracking_uri_restored():
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
        model = mlflow.pyfunc.load_model("models:/demo@Production")
        frame = pd.read_parquet(next(tmp_path.glob("mlartifacts/**/reference.parquet")))
        assert len(model.predict(frame.head(10))) == 10

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with tracking_uri_restored():
        code, out, _ = call_main(["seed-demo"], capsys)
    assert code == 0
    assert last_json_line(out) == {
        "model_name": "demo",
        "version": summary["version"],
        "promoted": False,
        "seeded": False,
    }
    assert len(MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_model_versions("name = 'demo'")) == 1


def test_train_from_csv_prints_one_json_summary(
    mlflow_server: MlflowServer,
    model_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    data = str(tmp_path / "demo.csv")
    assert call_main(["export-demo-data", data], capsys)[0] == 0

    argv = ["train", "--model-name", model_name, "--data", data, "--target", "target", "--promote"]
    code, out, _ = call_main([*argv, "--drift-run-id", "d9"], capsys)

    assert code == 0
    summary = last_json_line(out)
    assert summary["promoted"] is True
    assert summary["version"] == "1"
    gate = summary["gate"]
    assert isinstance(gate, dict)
    assert gate["decision"] == "no_production"
    assert gate["challenger_score"] > 0.9
    client = MlflowClient(mlflow_server.uri)
    assert version_by_alias(client, model_name, PRODUCTION) == "1"
    assert client.get_run(str(summary["run_id"])).data.tags[DRIFT_RUN_TAG] == "d9"


@pytest.fixture
def data_file(tmp_path: Path) -> str:
    """The demo frame as Parquet, with `nan.parquet` beside it (the same with holes in one feature)."""
    path = tmp_path / "demo.parquet"
    assert main(["export-demo-data", str(path)]) == 0
    frame = load_demo_frame()
    frame.loc[::7, "mean_radius"] = float("nan")
    write_frame(frame, str(tmp_path / "nan.parquet"))
    return str(path)


TRAIN = ["train", "--model-name", "never-registered", "--target", "target", "--data"]
BAD_INPUTS = [
    pytest.param([*TRAIN, "{data}.missing.parquet"], "no such file", id="missing-file"),
    pytest.param([*TRAIN, "{folder}/data.txt"], "no such file", id="missing-txt"),
    pytest.param([*TRAIN, "{folder}/nan.parquet"], "cannot fit Pipeline on this data", id="missing-values"),
    pytest.param([*TRAIN, "{data}", "--target", "label"], "'label' is not a column", id="target-not-a-column"),
    pytest.param([*TRAIN, "{data}", "--metric", "mape"], "unknown metric 'mape'", id="unknown-metric"),
    pytest.param([*TRAIN, "{data}", "--metric", "rmse"], "does not fit", id="metric-of-wrong-kind"),
    pytest.param([*TRAIN, "{data}", "--tolerance", "lots"], "invalid float value", id="tolerance-not-a-number"),
    pytest.param([*TRAIN, "{data}", "--promote", "maybe"], "expected true or false", id="promote-not-a-bool"),
    pytest.param(["rollback", "--model-name", "no-such-model-x1"], "unknown model", id="rollback-unknown"),
    pytest.param(["export-demo-data", "{folder}/demo.xlsx"], "cannot tell", id="export-format"),
    pytest.param(["train", "--data", "{data}"], "required", id="missing-arguments"),
]


@pytest.mark.parametrize(("argv", "reason"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(
    mlflow_server: MlflowServer,
    data_file: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    reason: str,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    capsys.readouterr()
    filled = [arg.format(data=data_file, folder=Path(data_file).parent) for arg in argv]

    code, out, err = call_main(filled, capsys)

    assert code == 2
    assert not any(line.startswith("{") for line in out.splitlines())  # no summary; MLflow may print run URLs
    assert len(err.strip().splitlines()) == 1, err
    assert reason in err
    assert "Traceback" not in err


def test_real_process_refuses_rollback_without_previous_in_one_line(
    mlflow_server: MlflowServer, model_name: str, demo_frame: pd.DataFrame, run_cli: CliRunner
) -> None:
    train_and_register(
        model_name, demo_frame, "target", alias=PRODUCTION, estimator=DummyClassifier(), tracking_uri=mlflow_server.uri
    )

    result = run_cli("rollback", "--model-name", model_name, env={"MLFLOW_TRACKING_URI": mlflow_server.uri})

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: cannot roll back {model_name!r}: it has no 'Previous' alias"]
    assert version_by_alias(MlflowClient(mlflow_server.uri), model_name, PRODUCTION) == "1"
