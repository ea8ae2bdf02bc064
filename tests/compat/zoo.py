"""The model zoo: one registered model per shape a real registry holds, logged on first use.

Each entry logs a model the way its owner would (scikit-learn flavor or `mlflow.pyfunc.log_model` with a
class from `tests/compat/pyfuncs.py`), registers it and points the `Production` alias at it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import Array, Map, Object, Property
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from tests.compat import pyfuncs

SKLEARN_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"cloudpickle=={cloudpickle.__version__}"]
PYFUNC_REQUIREMENTS = [f"mlflow=={mlflow.__version__}"]
"""Given, as pinned as MLflow's inference would find them: inferring runs the model in a subprocess that
imports MLflow (5-12 s a model here), and serving never reads them (`--env-manager local`, this service)."""


def iris_x() -> np.ndarray:
    """MLflow's scoring-server tests: the first two iris features."""
    data: np.ndarray = datasets.load_iris().data[:, :2]
    return data


def _iris_y() -> np.ndarray:
    target: np.ndarray = datasets.load_iris().target
    return target


def all_types_frame() -> pd.DataFrame:
    """MLflow's `pandas_df_with_all_types` fixture: one column per MLflow data type."""
    frame = pd.DataFrame(
        {
            "boolean": [True, False, True],
            "integer": np.array([1, 2, 3], np.int32),
            "long": np.array([1, 2, 3], np.int64),
            "float": np.array([math.pi, 2 * math.pi, 3 * math.pi], np.float32),
            "double": [math.pi, 2 * math.pi, 3 * math.pi],
            "binary": [bytearray([1, 2, 3]), bytearray([4, 5, 6]), bytearray([7, 8, 9])],
            "datetime": [
                np.datetime64("2021-01-01 00:00:00"),
                np.datetime64("2021-02-02 00:00:00"),
                np.datetime64("2021-03-03 12:00:00"),
            ],
        }
    )
    frame["string"] = pd.Series(["a", "b", "c"], dtype=object)
    return frame


def _sklearn(model: Any, **kwargs: Any) -> Any:
    return mlflow.sklearn.log_model(
        model, name="model", serialization_format="cloudpickle", pip_requirements=SKLEARN_REQUIREMENTS, **kwargs
    )


def _pyfunc(model: Any, **kwargs: Any) -> Any:
    return mlflow.pyfunc.log_model(name="model", python_model=model, pip_requirements=PYFUNC_REQUIREMENTS, **kwargs)


def _knn() -> KNeighborsClassifier:
    return KNeighborsClassifier().fit(iris_x(), _iris_y())


def _sk_no_signature() -> Any:
    return _sklearn(_knn())


def _sk_tensor() -> Any:
    x = iris_x()
    return _sklearn(_knn(), signature=infer_signature(x), input_example=x[:3])


def _sk_integer_columns() -> Any:
    frame = pd.DataFrame(iris_x())  # columns 0 and 1, as `pd.DataFrame(X)` gives them
    model = LogisticRegression(max_iter=500).fit(frame, _iris_y())
    return _sklearn(model, signature=infer_signature(frame), input_example=frame.head(3))


def _sk_named() -> Any:
    frame = pd.DataFrame(iris_x(), columns=["sepal_length", "sepal_width"])
    model = LogisticRegression(max_iter=500).fit(frame, _iris_y())
    return _sklearn(model, signature=infer_signature(frame), input_example=frame.head(3))


def _sk_params() -> Any:
    """MLflow's `test_serving_model_with_param_schema`: a datetime param with a default."""
    x = iris_x()
    signature = infer_signature(x)
    signature.params = ParamSchema([ParamSpec("param1", DataType.datetime, np.datetime64("2023-07-01"))])
    return _sklearn(_knn(), signature=signature)


def _sk_named_params() -> Any:
    """Named double columns (the fast path's shape) and a params schema, which MLflow enforces."""
    frame = pd.DataFrame(iris_x(), columns=["sepal_length", "sepal_width"])
    model = LogisticRegression(max_iter=500).fit(frame, _iris_y())
    signature = infer_signature(frame, params={"threshold": 0.5})
    return _sklearn(model, signature=signature)


def _sk_category() -> Any:
    """A native pipeline that raises on a category it never saw: a model fault on the fast path."""
    frame = pd.DataFrame({"band": ["small", "large"] * 20, "x": np.linspace(0, 1, 40)})
    encode = ColumnTransformer([("band", OneHotEncoder(handle_unknown="error"), ["band"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(frame, np.arange(40) % 2)
    return _sklearn(model, signature=infer_signature(frame), input_example=frame.head(3))


def _all_types() -> Any:
    frame = all_types_frame()
    schema = Schema([ColSpec(str(c), str(c)) for c in frame.columns])
    return _pyfunc(pyfuncs.DtypesEcho(), signature=ModelSignature(schema))


def _strings() -> Any:
    return _pyfunc(pyfuncs.Upper(), signature=ModelSignature(Schema([ColSpec(DataType.string)])))


def _optional() -> Any:
    schema = Schema([ColSpec(DataType.double, "a"), ColSpec(DataType.string, "b", required=False)])
    return _pyfunc(pyfuncs.ValuesEcho(), signature=ModelSignature(schema))


def _nested() -> Any:
    schema = Schema(
        [
            ColSpec(Array(DataType.double), "vec"),
            ColSpec(Object([Property("city", DataType.string)]), "place"),
            ColSpec(Map(DataType.long), "counts"),
        ]
    )
    return _pyfunc(pyfuncs.ValuesEcho(), signature=ModelSignature(schema))


def _chat() -> Any:
    params = ParamSchema([ParamSpec("temperature", DataType.float, 0.5), ParamSpec("max_tokens", DataType.long, 16)])
    return _pyfunc(pyfuncs.Chat(), signature=ModelSignature(inputs=None, params=params))


def _completions() -> Any:
    return _pyfunc(pyfuncs.Completions())


def _hinted() -> Any:
    return _pyfunc(pyfuncs.Hinted())


def _raises() -> Any:
    """Signature `x: double`; its input example has a negative value, so the warm-up fails."""
    example = pd.DataFrame({"x": [-1.0]})
    return _pyfunc(
        pyfuncs.RaisesOnNegative(),
        signature=ModelSignature(Schema([ColSpec(DataType.double, "x")])),
        input_example=example,
    )


def _raises_no_signature() -> Any:
    return _pyfunc(pyfuncs.RaisesOnNegative())


ZOO: dict[str, Callable[[], Any]] = {
    "sk_no_signature": _sk_no_signature,
    "sk_tensor": _sk_tensor,
    "sk_integer_columns": _sk_integer_columns,
    "sk_named": _sk_named,
    "sk_params": _sk_params,
    "sk_named_params": _sk_named_params,
    "sk_category": _sk_category,
    "all_types": _all_types,
    "strings": _strings,
    "optional": _optional,
    "nested": _nested,
    "chat": _chat,
    "completions": _completions,
    "hinted": _hinted,
    "raises": _raises,
    "raises_no_signature": _raises_no_signature,
}


def register(key: str, tracking_uri: str) -> str:
    """Log the zoo's `key` model, register it under a unique name, alias `Production`; the name."""
    mlflow.set_tracking_uri(tracking_uri)
    name = f"compat-{key.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    with mlflow.start_run():
        info = ZOO[key]()
    version = mlflow.register_model(info.model_uri, name)
    mlflow.MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", version.version)
    return name
