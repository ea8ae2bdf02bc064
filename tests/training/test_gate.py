"""The promotion gate: the comparison and the decision, then the whole path against a real registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from training.errors import TrainingInputError
from training.gate import Decision, choose_metric, decide, passes
from training.registry import CHALLENGER, PREVIOUS, PRODUCTION, version_by_alias
from training.train import train_and_register


@pytest.mark.parametrize(
    ("metric", "challenger", "production", "tolerance", "expected"),
    [
        ("accuracy", 0.95, 0.95, 0.01, True),
        ("accuracy", 0.945, 0.95, 0.01, True),
        ("accuracy", 0.93, 0.95, 0.01, False),
        ("accuracy", 0.96, 0.95, 0.0, True),
        ("accuracy", 0.94, 0.95, 0.0, False),
        ("f1", 0.50, 0.90, 0.01, False),
        ("rmse", 1.005, 1.0, 0.01, True),
        ("rmse", 1.02, 1.0, 0.01, False),
        ("rmse", 0.5, 1.0, 0.0, True),
    ],
)
def test_challenger_passes_unless_worse_beyond_tolerance(
    metric: str, challenger: float, production: float, tolerance: float, expected: bool
) -> None:
    assert passes(metric, challenger, production, tolerance) is expected


@pytest.mark.parametrize(
    ("passed", "has_production", "promote", "forced", "expected"),
    [
        (True, True, True, False, Decision.PROMOTED),
        (False, True, True, False, Decision.REJECTED),
        (True, True, False, False, Decision.NOT_REQUESTED),
        (False, True, False, False, Decision.NOT_REQUESTED),
        (True, False, True, False, Decision.NO_PRODUCTION),
        (True, False, False, False, Decision.NO_PRODUCTION),
        (False, True, False, True, Decision.FORCED),
    ],
)
def test_decision(passed: bool, has_production: bool, promote: bool, forced: bool, expected: Decision) -> None:
    assert decide(passed=passed, has_production=has_production, promote=promote, forced=forced) is expected


@pytest.mark.parametrize(
    ("estimator", "asked", "expected"),
    [
        (LogisticRegression(), None, "accuracy"),
        (LogisticRegression(), "f1", "f1"),
        (LinearRegression(), None, "rmse"),
        (LogisticRegression(), "rmse", TrainingInputError),
        (LinearRegression(), "accuracy", TrainingInputError),
    ],
)
def test_metric_follows_the_kind_of_estimator(estimator: object, asked: str | None, expected: object) -> None:
    if expected is TrainingInputError:
        with pytest.raises(TrainingInputError, match="does not fit"):
            choose_metric(estimator, asked)
    else:
        assert choose_metric(estimator, asked) == expected


def test_good_challenger_is_promoted_and_previous_kept(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame
) -> None:
    first = train_and_register(model_name, demo_frame, "target", alias=PRODUCTION)
    second = train_and_register(model_name, demo_frame, "target", promote=True)

    assert second.promoted
    assert second.gate.decision is Decision.PROMOTED
    assert second.gate.production_version == first.version
    assert version_by_alias(client, model_name, PRODUCTION) == second.version
    assert version_by_alias(client, model_name, PREVIOUS) == first.version
    run = client.get_run(second.run_id)
    assert run.data.tags["gate.decision"] == "promoted"
    assert run.data.metrics["gate.production_score"] == pytest.approx(second.gate.production_score)


def test_challenger_on_shuffled_labels_is_registered_but_not_promoted(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame
) -> None:
    first = train_and_register(model_name, demo_frame, "target", alias=PRODUCTION)
    labels = np.random.default_rng(0).permutation(demo_frame["target"].to_numpy())
    shuffled = demo_frame.assign(target=labels)

    second = train_and_register(model_name, shuffled, "target", promote=True, holdout=demo_frame)

    assert not second.promoted
    assert second.gate.decision is Decision.REJECTED
    assert second.gate.production_score is not None
    assert second.gate.challenger_score < second.gate.production_score - 0.1
    assert version_by_alias(client, model_name, CHALLENGER) == second.version
    assert version_by_alias(client, model_name, PRODUCTION) == first.version
    assert version_by_alias(client, model_name, PREVIOUS) is None
    assert client.get_run(second.run_id).data.tags["gate.decision"] == "rejected"


@pytest.mark.parametrize(("promote", "production"), [(True, "1"), (False, None)])
def test_first_version_is_promoted_only_when_asked(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame, promote: bool, production: str | None
) -> None:
    result = train_and_register(model_name, demo_frame, "target", promote=promote, estimator=DummyClassifier())

    assert result.gate.decision is Decision.NO_PRODUCTION
    assert result.promoted is promote
    assert version_by_alias(client, model_name, PRODUCTION) == production
    assert version_by_alias(client, model_name, CHALLENGER) == "1"


@pytest.mark.parametrize("force", [False, True])
def test_production_that_cannot_score_the_holdout_fails_the_gate_closed_unless_forced(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame, force: bool
) -> None:
    first = train_and_register(model_name, demo_frame, "target", alias=PRODUCTION)
    changed = demo_frame.drop(columns=[demo_frame.columns[0]])  # Production's signature needs this column

    second = train_and_register(model_name, changed, "target", promote=True, force=force, estimator=DummyClassifier())

    assert second.gate.production_score is None
    assert second.gate.passed is False
    assert second.gate.reason is not None
    assert f"Production version {first.version} cannot score the held-out rows" in second.gate.reason
    tags = client.get_run(second.run_id).data.tags
    assert tags["gate.reason"] == second.gate.reason
    assert version_by_alias(client, model_name, CHALLENGER) == second.version
    if force:
        assert (second.promoted, second.gate.decision) == (True, Decision.FORCED)
        assert version_by_alias(client, model_name, PRODUCTION) == second.version
        assert version_by_alias(client, model_name, PREVIOUS) == first.version
    else:
        assert (second.promoted, second.gate.decision) == (False, Decision.REJECTED)
        assert tags["gate.decision"] == "rejected"
        assert version_by_alias(client, model_name, PRODUCTION) == first.version
