"""Linear models logged by plain MLflow (no reference rows) compiled to their affine map, proven on probe rows.

`mlflow.sklearn.log_model` with a signature and an input example, as a user's own pipeline logs a model: no
`reference/reference.parquet` in the run. The affine map is proven on the example and `width + 1` affinely
independent rows around it (service/check_rows.py), then held here to the native model over every row of
its data set; a map with one weight or its bias wrong is refused. Tree models logged the same way stay
native: a few rows prove nothing of a tree.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

from service.compiled import Compiler, _affine_on_probes
from service.linear_form import fold
from service.loaded_model import LoadedModel, ModelVersion, load_version
from service.metrics import Metrics
from tests.helpers import tracking_uri_restored
from tests.processes import MlflowServer
from tests.service.compiled_models import data_set, log_stock
from tests.service.test_compiled import _predict

DATA = {"cancer": load_breast_cancer, "diabetes": load_diabetes, "iris": load_iris}
LINEAR: dict[str, tuple[Any, str]] = {
    "binary_logistic_regression": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), "cancer"),
    "multiclass_logistic_regression": (make_pipeline(MaxAbsScaler(), LogisticRegression(max_iter=2000)), "iris"),
    "linear_regression": (LinearRegression(), "diabetes"),
    "ridge": (make_pipeline(MinMaxScaler(), Ridge(alpha=0.5)), "diabetes"),
}


def _data(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    return data_set(DATA[name])


def _log(server: MlflowServer, estimator: Any, data: str, **logging: Any) -> ModelVersion:
    """`estimator` fitted on `data`, logged by `mlflow.sklearn.log_model`: nothing else in its run."""
    features, target = _data(data)
    fitted = clone(estimator).fit(features, target)
    return log_stock(server.uri, f"stock-{uuid.uuid4().hex[:8]}", fitted, features, **logging)


def _load(meta: ModelVersion, root: Path, compiler: Compiler | None) -> LoadedModel:
    return load_version(meta, root, compiler=compiler)


@pytest.mark.parametrize("family", LINEAR)
def test_a_stock_logged_linear_model_is_proven_on_probe_rows_and_agrees_everywhere(
    family: str, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    estimator, data = LINEAR[family]
    meta = _log(mlflow_server, estimator, data)
    metrics = Metrics()
    with tracking_uri_restored():
        mlflow.set_tracking_uri(mlflow_server.uri)
        compiled = _load(meta, tmp_path / "compiled", Compiler("auto", metrics))
        native = _load(meta, tmp_path / "native", None)

    found = compiled.compilation
    assert found is not None
    assert compiled.runtime == "linear", found
    assert found.result == "compiled"
    features, _ = _data(data)
    assert found.rows_checked == 5 + features.shape[1] + 1  # the example, then x0 and x0 + h_i e_i per column
    assert "no reference rows" in (found.reason or "")
    assert "probe rows" in (found.reason or "")
    assert metrics.registry.get_sample_value("model_compile_total", {"model": meta.name, "result": "compiled"}) == 1
    if native.classes is not None:
        assert np.array_equal(_predict(compiled, features), _predict(native, features))
        np.testing.assert_allclose(
            _predict(compiled, features, "predict_proba"), _predict(native, features, "predict_proba"), atol=1e-9
        )
    else:
        expected = _predict(native, features)
        np.testing.assert_allclose(_predict(compiled, features), expected, rtol=1e-9, atol=1e-9)


def test_a_folded_map_with_one_weight_or_its_bias_wrong_is_refused(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    """What the probe rows are for: a fold that misreads one coefficient (here the last column's weight moved
    by 1e-3 of itself) or the intercept, which the example's five rows may not show, serves natively."""
    meta = _log(mlflow_server, LINEAR["binary_logistic_regression"][0], "cancer")
    with tracking_uri_restored():
        mlflow.set_tracking_uri(mlflow_server.uri)
        native = _load(meta, tmp_path, None)
    assert native.schema is not None
    width = len(native.schema.columns)
    affine = fold(native.estimator, width)
    assert affine is not None
    weights = affine.weights.copy()
    weights[-1, 0] *= 1.001
    wrong = {"weight": replace(affine, weights=weights), "bias": replace(affine, bias=affine.bias + 1e-3)}

    for what, wrong_map in wrong.items():
        served, found = _affine_on_probes(native, wrong_map, "no reference rows")
        assert served is None, what
        assert found.result == "disagreed", (what, found)
        assert "scores differ" in (found.reason or ""), found

    served, found = _affine_on_probes(native, affine, "no reference rows")  # the true map: proven
    assert served is not None
    assert found.result == "compiled"


def _stays_native(loaded: LoadedModel) -> str:
    assert loaded.runtime == "sklearn"
    assert loaded.compilation is not None
    assert loaded.compilation.result == "unchecked"
    return loaded.compilation.reason or ""


def test_a_stock_logged_forest_or_a_linear_model_without_an_example_stays_native(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    trees = ["sklearn.tree._tree.Tree"]  # MLflow's skops format loads trees only when told they are trusted
    forest = _log(
        mlflow_server, RandomForestClassifier(n_estimators=10, random_state=0), "cancer", skops_trusted_types=trees
    )
    bare = _log(mlflow_server, LINEAR["ridge"][0], "diabetes", input_example=None)
    with tracking_uri_restored():
        mlflow.set_tracking_uri(mlflow_server.uri)
        assert "no reference rows" in _stays_native(_load(forest, tmp_path / "forest", Compiler("auto")))
        assert "no reference rows" in _stays_native(_load(bare, tmp_path / "bare", Compiler("auto")))
