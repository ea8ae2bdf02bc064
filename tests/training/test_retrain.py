"""Retraining without an estimator refits a clone of whatever estimator Production serves."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestClassifier

from training.gate import Decision
from training.registry import CHALLENGER, PRODUCTION, version_by_alias
from training.train import train_and_register


def test_retraining_refits_a_clone_of_the_production_estimator(
    client: MlflowClient, model_name: str, demo_frame: pd.DataFrame
) -> None:
    numeric = demo_frame.drop(columns=["size_band"])
    forest = RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0)
    first = train_and_register(model_name, numeric, "target", estimator=forest, alias=PRODUCTION)

    second = train_and_register(model_name, numeric, "target")

    refit = mlflow.sklearn.load_model(f"models:/{model_name}/{second.version}")
    assert isinstance(refit, RandomForestClassifier)
    assert refit.get_params()["n_estimators"] == 15
    assert refit.get_params()["max_depth"] == 4
    assert client.get_run(second.run_id).data.params["estimator"] == "RandomForestClassifier"
    assert second.gate.production_version == first.version
    assert second.gate.decision is Decision.NOT_REQUESTED
    assert version_by_alias(client, model_name, CHALLENGER) == second.version
    assert version_by_alias(client, model_name, PRODUCTION) == first.version
