"""Which estimator a training run fits, and what skops must trust to load it back.

With no estimator given: a clone of the `Production` version's estimator when there is one (so any
scikit-learn model in the registry can be retrained without custom code), else the default Pipeline.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.errors import TrainingInputError

logger = logging.getLogger(__name__)


def numeric_columns(features: pd.DataFrame) -> list[str]:
    """Columns scaled as numbers; booleans, strings and everything else are one-hot encoded."""
    return [
        str(name)
        for name, dtype in features.dtypes.items()
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ]


def default_pipeline(features: pd.DataFrame) -> Pipeline:
    """StandardScaler on numeric columns, OneHotEncoder on the rest, then LogisticRegression.

    Column lists are explicit (not selectors) so a clone refits on the same columns and skops
    needs no extra trusted types for the selection.
    """
    numeric = numeric_columns(features)
    categorical = [str(name) for name in features.columns if name not in numeric]
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=1000))])


def production_clone(model_uri: str) -> Any:
    """An unfitted clone of the scikit-learn estimator behind `model_uri`."""
    try:
        fitted = mlflow.sklearn.load_model(model_uri)
    except MlflowException as exc:
        raise TrainingInputError(
            f"cannot retrain {model_uri} without an estimator: it does not load as a scikit-learn model ({exc})"
        ) from exc
    return clone(fitted)


def choose_estimator(estimator: BaseEstimator | None, features: pd.DataFrame, production_uri: str | None) -> Any:
    """The estimator to fit: the one given, a clone of Production's, or the default Pipeline."""
    if estimator is not None:
        return clone(estimator)
    if production_uri is not None:
        logger.info("refitting a clone of the estimator of %s", production_uri)
        return production_clone(production_uri)
    return default_pipeline(features)


def describe(estimator: Any) -> tuple[str, str]:
    """(class name, class name of the final step) — they differ for a Pipeline."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return type(estimator).__name__, type(final).__name__


def trusted_types(fitted: Any) -> list[str]:
    """The types skops refuses by default in this fitted estimator (e.g. `sklearn.tree._tree.Tree`).

    The estimator was built and fitted by this process, so its own types are the ones to trust;
    MLflow stores the list in the flavor config and hands it to skops on load.
    """
    import skops.io  # seconds to import: commands that never log a model skip it

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(fitted)))
