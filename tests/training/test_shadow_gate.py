"""Promotion on live evidence: a real MLflow server, real capture files of schema 3, the real CLI.

A retrained version that passes the offline gate waits as Challenger; `python -m training promote`
promotes it once it shadowed enough rows that agree, and blocks one that disagrees on a slice.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from drift.capture_reader import Window
from drift.shadow import ShadowCounts
from drift.shadow_settings import LiveBounds
from tests.drift.shadow_capture import write_shadow_capture
from tests.processes import MlflowServer
from tests.training.conftest import CliRunner
from training.data import load_demo_frame
from training.evidence import Evidence
from training.gate import Decision
from training.live_gate import judge
from training.promotion import promote_on_evidence
from training.registry import CHALLENGER, PREVIOUS, PRODUCTION, version_by_alias
from training.train import TrainResult, train_and_register

MIN_ROWS = 50
SLICE_FEATURE, SLICE_AT = "mean_radius", 15.0


def _waiting_challenger(name: str, frame: pd.DataFrame, capture: Path) -> tuple[TrainResult, TrainResult]:
    """Production (version 1) and a retrained version 2 that passed the offline gate and waits as Challenger."""
    first = train_and_register(name, frame, "target", alias=PRODUCTION)
    live = LiveBounds(capture_uri=str(capture), min_rows=MIN_ROWS)
    second = train_and_register(name, frame, "target", promote=True, live=live)
    return first, second


@pytest.fixture(scope="module")
def waiting(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """A model whose Challenger waits (never promoted by this module's tests): name, Production, Challenger."""
    name = f"shadow-gate-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(mlflow_server.uri)
    first, second = _waiting_challenger(name, load_demo_frame(), tmp_path_factory.mktemp("unused-capture"))
    return name, first.version, second.version


def _rows(frame: pd.DataFrame, count: int) -> pd.DataFrame:
    return frame.drop(columns=["target"]).iloc[:count].reset_index(drop=True)


def _capture(
    root: Path,
    name: str,
    inputs: pd.DataFrame,
    production: str,
    challenger: str,
    *,
    disagree_when: np.ndarray | None = None,
    errors: list[str | None] | None = None,
    at: datetime | None = None,
) -> None:
    """Capture rows of `inputs`: production answers 0/1, the shadow the same except where `disagree_when`."""
    answers = (inputs[SLICE_FEATURE].to_numpy() > 12).astype(np.float64)
    shadow = np.where(disagree_when, 1 - answers, answers) if disagree_when is not None else answers
    write_shadow_capture(
        root,
        name,
        inputs,
        at or datetime.now(UTC) - timedelta(minutes=5),
        version=production,
        predictions=answers,
        shadow_version=challenger,
        shadow_predictions=shadow,
        shadow_errors=errors,
    )


def _promote(run_cli: CliRunner, server: MlflowServer, name: str, capture: Path, *extra: str) -> tuple[int, dict]:
    args = ["promote", "--model-name", name, "--capture-uri", str(capture), "--shadow-min-rows", str(MIN_ROWS)]
    done = run_cli(*args, *extra, env={"MLFLOW_TRACKING_URI": server.uri})
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_agreeing_challenger_waits_below_n_rows_and_is_promoted_at_n(
    client: MlflowClient,
    mlflow_server: MlflowServer,
    model_name: str,
    demo_frame: pd.DataFrame,
    tmp_path: Path,
    run_cli: CliRunner,
) -> None:
    first, second = _waiting_challenger(model_name, demo_frame, tmp_path)
    assert second.gate.decision is Decision.WAITING
    assert not second.promoted
    assert version_by_alias(client, model_name, CHALLENGER) == second.version
    assert version_by_alias(client, model_name, PRODUCTION) == first.version
    tags = client.get_model_version(model_name, second.version).tags
    assert tags["aliasserve.live_gate.decision"] == "waiting"
    assert tags["aliasserve.gate.passed"] == "true"
    assert client.get_run(second.run_id).data.tags["gate.decision"] == "waiting"

    inputs = _rows(demo_frame, MIN_ROWS + 30)
    _capture(tmp_path, model_name, inputs.iloc[: MIN_ROWS - 1], first.version, second.version)
    # Rows that are no evidence for this Challenger against this Production: dropped by a full queue,
    # shadowed by another version, compared with another production version, or outside the window.
    _capture(tmp_path, model_name, inputs.iloc[:10], first.version, second.version, errors=["dropped"] * 10)
    _capture(tmp_path, model_name, inputs.iloc[:10], first.version, "999")
    _capture(tmp_path, model_name, inputs.iloc[:10], "998", second.version)
    _capture(
        tmp_path, model_name, inputs.iloc[:10], first.version, second.version, at=datetime.now(UTC) - timedelta(days=9)
    )

    code, waiting = _promote(run_cli, mlflow_server, model_name, tmp_path)
    assert code == 0
    assert waiting["decision"] == "waiting"
    assert not waiting["promoted"]
    assert waiting["live_gate"]["shadowed"] == MIN_ROWS - 1
    assert waiting["live_gate"]["dropped"] == 10
    assert version_by_alias(client, model_name, PRODUCTION) == first.version

    _capture(tmp_path, model_name, inputs.iloc[MIN_ROWS - 1 : MIN_ROWS], first.version, second.version)
    code, promoted = _promote(run_cli, mlflow_server, model_name, tmp_path)
    assert code == 0
    assert promoted["decision"] == "promoted"
    assert promoted["promoted"]
    assert promoted["live_gate"]["shadowed"] == MIN_ROWS
    assert promoted["live_gate"]["agreement"] == 1.0
    assert version_by_alias(client, model_name, PRODUCTION) == second.version
    assert version_by_alias(client, model_name, PREVIOUS) == first.version

    tags = client.get_model_version(model_name, second.version).tags
    assert tags["aliasserve.live_gate.decision"] == "promoted"
    assert tags["aliasserve.live_gate.shadowed"] == str(MIN_ROWS)
    assert tags["aliasserve.live_gate.bounds.min_rows"] == str(MIN_ROWS)
    assert tags["aliasserve.live_gate.run_id"] == promoted["run_id"]
    run = client.get_run(promoted["run_id"])
    assert run.data.tags["aliasserve.role"] == "promotion"
    assert run.data.tags["live_gate.decision"] == "promoted"
    assert run.data.tags["live_gate.production_version"] == first.version
    assert run.data.metrics["live_gate.agreement"] == 1.0
    assert "live_gate.window.start" in run.data.tags

    code, again = _promote(run_cli, mlflow_server, model_name, tmp_path)
    assert code == 0
    assert again["decision"] == "nothing_to_promote"


def test_challenger_disagreeing_on_a_slice_is_blocked(
    client: MlflowClient,
    waiting: tuple[str, str, str],
    demo_frame: pd.DataFrame,
    tmp_path: Path,
    run_cli: CliRunner,
    mlflow_server: MlflowServer,
) -> None:
    name, production, challenger = waiting
    inputs = _rows(demo_frame, 200)
    _capture(tmp_path, name, inputs, production, challenger, disagree_when=inputs[SLICE_FEATURE].to_numpy() > SLICE_AT)

    code, blocked = _promote(run_cli, mlflow_server, name, tmp_path)

    assert code == 3
    assert blocked["decision"] == "blocked"
    assert not blocked["promoted"]
    assert "agreement" in blocked["reason"]
    disagreeing = int((inputs[SLICE_FEATURE] > SLICE_AT).sum())
    assert blocked["live_gate"]["agreement"] == pytest.approx(1 - disagreeing / 200)
    assert version_by_alias(client, name, PRODUCTION) == production
    tags = client.get_model_version(name, challenger).tags
    assert tags["aliasserve.live_gate.decision"] == "blocked"
    assert tags["aliasserve.live_gate.compared"] == "200"


def test_challenger_that_fails_on_rows_is_blocked_by_its_error_rate(
    client: MlflowClient,
    waiting: tuple[str, str, str],
    demo_frame: pd.DataFrame,
    tmp_path: Path,
    mlflow_server: MlflowServer,
) -> None:
    name, production, challenger = waiting
    inputs = _rows(demo_frame, 100)
    errors: list[str | None] = ["ValueError" if i % 10 == 0 else None for i in range(100)]
    _capture(tmp_path, name, inputs, production, challenger, errors=errors)
    bounds = LiveBounds(capture_uri=str(tmp_path), min_rows=MIN_ROWS, max_error_rate=0.05)

    outcome = promote_on_evidence(client, mlflow_server.uri, name, bounds, datetime.now(UTC))

    assert outcome["decision"] == "blocked"
    assert "error rate" in outcome["reason"]
    assert outcome["live_gate"]["errors"] == 10
    assert outcome["live_gate"]["error_rate"] == pytest.approx(0.1)
    assert version_by_alias(client, name, PRODUCTION) == production


def test_capture_without_shadow_columns_is_no_evidence(
    client: MlflowClient,
    waiting: tuple[str, str, str],
    demo_frame: pd.DataFrame,
    tmp_path: Path,
    mlflow_server: MlflowServer,
) -> None:
    from tests.drift.capture_files import write_capture

    name, production, _ = waiting
    write_capture(tmp_path, name, _rows(demo_frame, 100), datetime.now(UTC), version=production, schema_version=2)
    bounds = LiveBounds(capture_uri=str(tmp_path), min_rows=MIN_ROWS)

    outcome = promote_on_evidence(client, mlflow_server.uri, name, bounds, datetime.now(UTC))

    assert outcome["decision"] == "waiting"
    assert outcome["live_gate"]["shadowed"] == 0


def test_promote_without_capture_uri_is_a_one_line_usage_error(run_cli: CliRunner, mlflow_server: MlflowServer) -> None:
    done = run_cli("promote", "--model-name", "any", env={"MLFLOW_TRACKING_URI": mlflow_server.uri})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --shadow-min-rows needs --capture-uri: where the service captures the shadow rows"
    ]


@pytest.mark.parametrize(
    ("shadowed", "agreeing", "errors", "expected"),
    [
        (99, 99, 0, "waiting"),
        (100, 99, 0, "promoted"),  # agreement exactly at its bound passes
        (100, 98, 0, "blocked"),
        (100, 99, 1, "promoted"),  # error rate exactly at its bound passes (99 compared, all agree)
        (100, 98, 2, "blocked"),
        (100, 0, 100, "blocked"),  # nothing compared: no agreement to speak for it
    ],
)
def test_bounds_are_inclusive(shadowed: int, agreeing: int, errors: int, expected: str) -> None:
    compared = shadowed - errors
    counts = ShadowCounts(shadowed, shadowed, compared, min(agreeing, compared), errors, 0)
    bounds = LiveBounds(capture_uri="unused", min_rows=100, min_agreement=0.99, max_error_rate=0.01)
    evidence = Evidence("2", "1", Window.ending(datetime.now(UTC), bounds.window), counts, sampled=False)
    assert judge(evidence, bounds).decision.value == expected
