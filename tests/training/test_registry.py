"""Rollback is one alias swap: Production back to Previous, and a second rollback undoes the first."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier

from training.errors import RegistryStateError
from training.registry import PREVIOUS, PRODUCTION, rollback, version_by_alias
from training.train import train_and_register


def _aliases(client: MlflowClient, name: str) -> tuple[str | None, str | None]:
    return version_by_alias(client, name, PRODUCTION), version_by_alias(client, name, PREVIOUS)


def test_rollback_swaps_production_and_previous_and_undoes_itself(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame
) -> None:
    train_and_register(model_name, demo_frame, "target", alias=PRODUCTION, estimator=DummyClassifier())
    train_and_register(model_name, demo_frame, "target", alias=PRODUCTION, estimator=DummyClassifier())
    assert _aliases(client, model_name) == ("2", "1")

    first = rollback(client, model_name)
    assert (first.production, first.previous) == ("1", "2")
    assert _aliases(client, model_name) == ("1", "2")

    rollback(client, model_name)
    assert _aliases(client, model_name) == ("2", "1")


def test_rollback_without_previous_is_refused(client: MlflowClient, model_name: str, demo_frame: pd.DataFrame) -> None:
    train_and_register(model_name, demo_frame, "target", alias=PRODUCTION, estimator=DummyClassifier())

    with pytest.raises(RegistryStateError, match="no 'Previous' alias"):
        rollback(client, model_name)
    assert _aliases(client, model_name) == ("1", None)


def test_rollback_of_an_unknown_model_is_refused(client: MlflowClient, model_name: str) -> None:
    with pytest.raises(RegistryStateError, match="unknown model"):
        rollback(client, model_name)
