"""Registered versions for the compiled-model tests: trained and logged by the training pipeline, or logged by
plain MLflow as a user's own pipeline logs them (`log_stock`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from service.loaded_model import ModelVersion
from tests.conftest import RegisteredModel
from tests.helpers import tracking_uri_restored
from tests.processes import MlflowServer


def register(server: MlflowServer, name: str, estimator: Any, frame: pd.DataFrame) -> RegisteredModel:
    """`estimator` fitted on `frame` (label column `target`), registered as `name` and aliased Production."""
    from training.train import train_and_register

    result = train_and_register(
        name, frame, "target", estimator=clone(estimator), alias="Production", tracking_uri=server.uri
    )
    return RegisteredModel(name, str(result.version), result.run_id, frame, server.uri)


def disagreeing_frame(rows: int = 200) -> pd.DataFrame:
    """One feature whose values differ only beyond float32's precision, and a label split in their middle.

    scikit-learn's HistGradientBoosting bins and compares in float64 and separates the classes; in float32
    every value is 1.0, so any compiled graph comparing in float32 predicts one class for all rows.
    """
    steps = np.arange(rows)
    return pd.DataFrame({"x": 1.0 + steps * 1e-10, "target": (steps >= rows // 2).astype("int64")})


def data_set(loader: Callable[..., Any]) -> tuple[pd.DataFrame, np.ndarray]:
    """A scikit-learn data set (`load_iris`, ...): its features as a frame, and its target."""
    data = loader(as_frame=True)
    return data.data, data.target.to_numpy()


def log_stock(tracking_uri: str, name: str, fitted: Any, features: pd.DataFrame, **logging: Any) -> ModelVersion:
    """`fitted` logged by plain `mlflow.sklearn.log_model` with a signature and its first five rows as the input
    example (`input_example=None` in `logging`: none), nothing else in its run; registered as `name`, aliased
    Production."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    head = features.head(5)
    logging = {"input_example": head, **logging}
    with tracking_uri_restored():
        mlflow.set_tracking_uri(tracking_uri)
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(
                fitted,
                name="model",
                signature=infer_signature(head, fitted.predict(head)),
                registered_model_name=name,
                **logging,
            )
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", version)
    return ModelVersion(name, version, run.info.run_id, f"models:/{name}/{version}")
