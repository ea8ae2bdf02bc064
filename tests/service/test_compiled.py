"""Compiled models (ONNX Runtime) proven equal at load, on versions registered on a real MLflow server.

In process: `load_version` with a `Compiler`, as the service's background load calls it. Each family is
trained and registered by the training pipeline (which logs the reference rows the proof uses), then
compared row by row with the same version loaded natively.
"""

from __future__ import annotations

import json
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, MinMaxScaler, StandardScaler

from service.compiled import Compiler, _label
from service.errors import ClientError
from service.loaded_model import LoadedModel, ModelVersion, load_version
from service.metrics import Metrics
from service.table import RawTable
from tests.conftest import RegisteredModel
from tests.processes import MlflowServer
from tests.service.compiled_models import disagreeing_frame, register


def _numeric_demo(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["size_band"])


def _diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True).frame


def _iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    return frame.rename(columns={c: c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns})


def _load(model: RegisteredModel, root: Path, compiler: Compiler | None) -> LoadedModel:
    meta = ModelVersion(model.name, model.version, model.run_id, f"models:/{model.name}/{model.version}")
    return load_version(meta, root, compiler=compiler)


def _predict(loaded: LoadedModel, frame: pd.DataFrame, method: str = "predict") -> np.ndarray:
    table = RawTable.from_columns({str(c): frame[c].tolist() for c in frame.columns})
    columns, _ = loaded.check(table)
    return np.asarray(loaded.predict(columns, method))


def _outcome(loaded: LoadedModel, frame: pd.DataFrame) -> str:
    try:
        return json.dumps(_predict(loaded, frame).tolist())
    except ClientError as exc:
        return f"refused: {exc.body()}"


def _assert_same_refusals(native: LoadedModel, compiled: LoadedModel, features: pd.DataFrame) -> None:
    """Values scikit-learn's validation may refuse (infinity, beyond float32, NaN): refused alike, or answered."""
    first = str(features.columns[0])
    for value in (np.inf, 1e300, np.nan):
        rows = features.head(2).assign(**{first: value})
        expected, got = _outcome(native, rows), _outcome(compiled, rows)
        assert expected.startswith("refused") == got.startswith("refused"), (value, expected, got)
        if expected.startswith("refused"):
            assert got == expected


FAMILIES: dict[str, tuple[Any, str]] = {
    "forest": (RandomForestClassifier(n_estimators=50, random_state=0), "demo"),
    "gradient_boosting": (GradientBoostingClassifier(n_estimators=30, random_state=0), "demo"),
    "hist_gradient_boosting": (HistGradientBoostingClassifier(max_iter=30, random_state=0), "demo"),
    "logistic_regression": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), "demo"),
    "linear_regression": (LinearRegression(), "diabetes"),
    "multiclass_logistic_regression": (make_pipeline(MaxAbsScaler(), LogisticRegression(max_iter=2000)), "iris"),
    "ridge": (make_pipeline(MinMaxScaler(), Ridge(alpha=0.5)), "diabetes"),
    "clipped_scaler_logistic_regression": (
        make_pipeline(MinMaxScaler(clip=True), LogisticRegression(max_iter=1000)),
        "demo",
    ),
}
LINEAR = {"logistic_regression", "linear_regression", "multiclass_logistic_regression", "ridge"}
"""Families compiled to their affine map (service/linear_form.py); the others to ONNX Runtime."""


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_compiles_and_agrees_on_the_reference_rows(
    family: str, demo_model: RegisteredModel, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    estimator, data = FAMILIES[family]
    frame = {"demo": lambda: _numeric_demo(demo_model.frame), "diabetes": _diabetes, "iris": _iris}[data]()
    model = register(mlflow_server, f"{family}-{uuid.uuid4().hex[:6]}", estimator, frame)
    metrics = Metrics()
    compiled = _load(model, tmp_path / "compiled", Compiler("auto", metrics))
    native = _load(model, tmp_path / "native", None)

    assert native.runtime == "sklearn"
    assert compiled.runtime == ("linear" if family in LINEAR else "onnxruntime"), compiled.compilation
    found = compiled.compilation
    assert found is not None
    assert found.result == "compiled"
    assert found.rows_checked >= len(frame)  # every reference row (the whole frame here) and the input example
    assert found.max_abs_diff is not None
    assert compiled.estimator is None  # the native estimator's memory is not kept beside the compiled form
    features = frame.drop(columns=["target"])
    if native.classes is not None:
        assert found.labels_equal is True
        assert np.array_equal(_predict(compiled, features), _predict(native, features))
        np.testing.assert_allclose(
            _predict(compiled, features, "predict_proba"), _predict(native, features, "predict_proba"), atol=1e-5
        )
    else:
        expected = _predict(native, features)
        np.testing.assert_allclose(_predict(compiled, features), expected, atol=1e-5 * np.abs(expected).max())
    assert metrics.registry.get_sample_value("model_compile_total", {"model": model.name, "result": "compiled"}) == 1
    _assert_same_refusals(native, compiled, features)


def test_the_pipeline_with_a_one_hot_encoded_string_column_compiles(
    demo_model: RegisteredModel, tmp_path: Path
) -> None:
    """The demo model: StandardScaler and OneHotEncoder (`size_band`, strings) in a ColumnTransformer."""
    compiled = _load(demo_model, tmp_path / "compiled", Compiler("auto"))
    native = _load(demo_model, tmp_path / "native", None)
    assert compiled.runtime == "onnxruntime", compiled.compilation
    assert compiled.compilation is not None
    assert compiled.compilation.layout == "columns"
    features = demo_model.frame.drop(columns=["target"])
    assert np.array_equal(_predict(compiled, features), _predict(native, features))
    np.testing.assert_allclose(
        _predict(compiled, features, "predict_proba"), _predict(native, features, "predict_proba"), atol=1e-5
    )
    _assert_same_refusals(native, compiled, features)


def test_a_model_whose_compiled_form_disagrees_serves_natively(
    mlflow_server: MlflowServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """HistGradientBoosting splits in float64; its ONNX graph compares in float32, where these values collapse."""
    model = register(
        mlflow_server,
        f"disagree-{uuid.uuid4().hex[:6]}",
        HistGradientBoostingClassifier(max_iter=5),
        disagreeing_frame(),
    )
    metrics = Metrics()
    with caplog.at_level("WARNING", logger="service.compiled"):
        loaded = _load(model, tmp_path, Compiler("auto", metrics))
    assert loaded.runtime == "sklearn"
    assert loaded.estimator is not None
    assert loaded.compilation is not None
    assert loaded.compilation.result == "disagreed"
    assert loaded.compilation.labels_equal is False
    assert "labels differ on" in (loaded.compilation.reason or "")
    assert any("serves natively" in r.getMessage() and "labels differ" in r.getMessage() for r in caplog.records)
    assert metrics.registry.get_sample_value("model_compile_total", {"model": model.name, "result": "disagreed"}) == 1
    assert metrics.registry.get_sample_value("model_compile_total", {"model": model.name, "result": "compiled"}) is None


def test_a_conversion_that_raises_leaves_the_native_model_serving(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    """skl2onnx has no converter for a FunctionTransformer: the version serves natively, predictions unchanged."""
    frame = _numeric_demo(demo_model.frame)
    estimator = make_pipeline(FunctionTransformer(np.abs), LogisticRegression(max_iter=1000))
    model = register(mlflow_server, f"unconvertible-{uuid.uuid4().hex[:6]}", estimator, frame)
    metrics = Metrics()
    loaded = _load(model, tmp_path / "compiled", Compiler("auto", metrics))
    assert loaded.runtime == "sklearn"
    assert loaded.compilation is not None
    assert loaded.compilation.result == "unconverted"
    assert "FunctionTransformer" in (loaded.compilation.reason or "")
    features = frame.drop(columns=["target"])
    assert np.array_equal(_predict(loaded, features), _predict(_load(model, tmp_path / "native", None), features))
    labels = {"model": model.name, "result": "unconverted"}
    assert metrics.registry.get_sample_value("model_compile_total", labels) == 1


def test_compile_off_loads_natively(demo_model: RegisteredModel, tmp_path: Path) -> None:
    loaded = _load(demo_model, tmp_path, Compiler("off", Metrics()))
    assert loaded.runtime == "sklearn"
    assert loaded.compilation is None


def test_a_rollback_to_a_cached_version_keeps_its_compiled_form(
    demo_model: RegisteredModel, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    """Production moves 1 -> 2 -> 1: version 1 comes back from memory, compiled, without converting again."""
    from mlflow import MlflowClient

    from service.model_manager import ModelManager
    from service.model_uri import parse_model_uri
    from service.registry import Registry

    frame = _numeric_demo(demo_model.frame)
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    first = register(mlflow_server, f"rollback-{uuid.uuid4().hex[:6]}", estimator, frame)
    metrics = Metrics()
    manager = ModelManager(
        parse_model_uri(first.uri),
        Registry(mlflow_server.uri),
        metrics,
        tmp_path,
        loader=partial(load_version, compiler=Compiler("auto", metrics)),
    )
    manager.refresh()
    served_first = manager.current
    assert served_first is not None
    assert served_first.runtime == "linear"
    second = register(mlflow_server, first.name, estimator, frame)
    manager.refresh()
    assert manager.current is not None
    assert manager.current.version == second.version

    MlflowClient(mlflow_server.uri).set_registered_model_alias(first.name, "Production", first.version)
    manager.refresh()
    assert manager.current is served_first
    assert manager.current.runtime == "linear"
    assert metrics.registry.get_sample_value("model_compile_total", {"model": first.name, "result": "compiled"}) == 2


@pytest.mark.parametrize(
    "row",
    [[0.3, 0.7], [0.5, 0.5], [0.49999994, 0.50000006], [np.nan, 0.5], [0.5, np.nan, 0.7], [0.2, 0.3, 0.5]],
)
def test_a_lone_row_is_labelled_as_in_a_batch(row: list[float]) -> None:
    """One row takes a path of its own (no numpy calls): same class as the batch rule, ties and NaN included."""
    classes = np.array(["a", "b", "c"][: len(row)])
    probabilities = np.array([row])
    alone, in_batch = _label(probabilities, classes), _label(np.vstack([probabilities, [row[::-1]]]), classes)
    assert alone.tolist() == in_batch[:1].tolist()
    assert alone.dtype == in_batch.dtype
    alone[0] = "z"  # the answer is the caller's own array, not a view of the classes
    assert classes.tolist() == ["a", "b", "c"][: len(row)]
