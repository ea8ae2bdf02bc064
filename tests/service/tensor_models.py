"""Models with tensor-spec signatures for the V2 tests, registered on a real MLflow server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from tests.compat.zoo import PYFUNC_REQUIREMENTS, SKLEARN_REQUIREMENTS


class TextAndNumbers(PythonModel):  # type: ignore[misc]
    """Two named tensors in (`text` strings, `x` float32 `[n, 2]`), three out (INT64, FP32, BYTES)."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        """Untyped on purpose: MLflow reads type hints on `predict` as a schema of its own."""
        text = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(model_input["text"]).reshape(-1)]
        x = np.asarray(model_input["x"])
        return {
            "length": np.array([len(t) for t in text], dtype=np.int64),
            "total": x.sum(axis=1).astype(np.float32),
            "upper": np.array([t.upper() for t in text], dtype=object),
        }


@dataclass(frozen=True)
class TensorModel:
    name: str
    version: str
    estimator: Any = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@Production"


def register_array_classifier(tracking_uri: str, frame: pd.DataFrame) -> TensorModel:
    """A logistic regression fitted on a float64 numpy array of 4 features: signature TensorSpec (-1, 4)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    x = frame.drop(columns="target").iloc[:, :4].to_numpy(dtype=np.float64)
    y = frame["target"].to_numpy()
    estimator = LogisticRegression(max_iter=1000).fit(x, y)
    name = f"array-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            signature=infer_signature(x, y),
            input_example=x[:2],
            registered_model_name=name,
            pip_requirements=SKLEARN_REQUIREMENTS,
        )
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", version)
    return TensorModel(name, version, estimator)


def register_text_and_numbers(tracking_uri: str) -> TensorModel:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(object), (-1,), "text"), TensorSpec(np.dtype(np.float32), (-1, 2), "x")])
    )
    name = f"tensors-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=TextAndNumbers(),
            signature=signature,
            registered_model_name=name,
            pip_requirements=PYFUNC_REQUIREMENTS,
        )
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", version)
    return TensorModel(name, version)
