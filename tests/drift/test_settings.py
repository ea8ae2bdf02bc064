"""The command line of `python -m drift run`, parsed in-process with the parser other code can import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drift.cli import UsageError, build_parser, parse_command_line
from drift.settings import PROJECT_ROOT, format_duration, parse_duration

MODEL = ["run", "--model-uri", "models:/demo@Production"]


def test_defaults_come_from_the_spec_and_the_environment(tmp_path: Path) -> None:
    settings = parse_command_line(MODEL, {"CAPTURE_URI": str(tmp_path), "MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    assert (settings.model_uri.name, settings.model_uri.alias) == ("demo", "Production")
    assert settings.capture_uri == str(tmp_path)
    assert settings.tracking_uri == "http://mlflow:5000"
    assert settings.window == timedelta(hours=24)
    assert settings.window_text == "1d"
    assert (settings.thresholds.alpha, settings.thresholds.correction) == (0.05, "bonferroni")
    assert (settings.thresholds.ks_min_statistic, settings.thresholds.min_distance) == (0.01, 0.03)
    assert (settings.min_rows, settings.max_rows) == (500, 100_000)
    assert settings.retrain is None
    assert not settings.include_prediction
    assert abs(settings.window_end - datetime.now(UTC)) < timedelta(minutes=1)


def test_relative_local_paths_are_made_absolute_for_the_retraining_subprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = parse_command_line([*MODEL, "--retrain", "--retrain-data", "data/train.csv", "--target", "y"], {})
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.capture_uri == str(tmp_path / "capture")
    assert settings.retrain is not None
    assert settings.retrain.data == str(tmp_path / "data" / "train.csv")
    assert settings.retrain.project_uri == str(PROJECT_ROOT)
    assert settings.retrain.cooldown == timedelta(hours=24)
    assert not settings.retrain.promote


def test_every_flag_of_the_spec_is_accepted() -> None:
    args = [
        *MODEL, "--capture-uri", "s3://bucket/capture", "--window", "30m", "--alpha", "0.01",
        "--correction", "bh", "--min-rows", "50", "--max-rows", "2000", "--categorical", "a, b",
        "--pushgateway", "pushgateway:9091", "--retrain", "--retrain-data", "s3://bucket/train.parquet",
        "--target", "y", "--promote", "--cooldown", "7d", "--retrain-project-uri", "/srv/project",
        "--window-end", "2026-03-01T12:00:00Z", "--include-prediction", "--ks-min-statistic", "0",
    ]  # fmt: skip
    settings = parse_command_line(args, {})
    assert settings.capture_uri == "s3://bucket/capture"
    assert settings.window == timedelta(minutes=30)
    assert settings.thresholds.correction == "bh"
    assert settings.thresholds.ks_min_statistic == 0.0
    assert settings.categorical == ("a", "b")
    assert settings.window_end == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert settings.retrain is not None
    assert (settings.retrain.cooldown, settings.retrain.promote) == (timedelta(days=7), True)
    assert settings.retrain.project_uri == "/srv/project"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window", "5x"], "--window"),
        (["--window", "0h"], "not a duration"),
        (["--alpha", "2"], "--alpha"),
        (["--alpha", "0"], "--alpha"),
        (["--alpha", "nan"], "--alpha"),
        (["--correction", "holm"], "--correction"),
        (["--min-rows", "0"], "--min-rows"),
        (["--max-rows", "-5"], "--max-rows"),
        (["--categorical", " , "], "--categorical"),
        (["--retrain"], "--retrain needs --retrain-data and --target"),
        (["--retrain", "--target", "y"], "--retrain needs --retrain-data"),
        (["--window-end", "yesterday"], "--window-end"),
        (["--pushgateway", " "], "--pushgateway"),
        (["--no-such-flag"], "unrecognized"),
    ],
)
def test_bad_flags_are_usage_errors_that_name_the_flag(extra: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_command_line([*MODEL, *extra], {})


@pytest.mark.parametrize("uri", ["demo", "models:/demo", "models:/demo@latest", "runs:/abc/model"])
def test_model_uris_other_than_alias_or_version_are_refused(uri: str) -> None:
    with pytest.raises(UsageError, match="--model-uri"):
        parse_command_line(["run", "--model-uri", uri], {})


def test_a_pinned_version_is_accepted_and_a_missing_command_is_a_usage_error() -> None:
    assert parse_command_line(["run", "--model-uri", "models:/demo/3"], {}).model_uri.version == "3"
    with pytest.raises(UsageError):
        build_parser().parse_args([])


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(days=1)),
        ("7d", timedelta(days=7)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations(text: str, length: timedelta) -> None:
    assert parse_duration(text) == length
    assert parse_duration(format_duration(length)) == length
