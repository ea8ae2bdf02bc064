"""Linear models folded into their affine map (service/linear_form.py) against scikit-learn itself.

Every supported scaling and model, fitted on real data sets, scored by the fold (a batch through numpy, each
row alone through Python floats) and by the fitted estimator: labels identical, numbers within 1e-9.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, PolynomialFeatures, StandardScaler

from service.linear_form import fold, labels, probabilities, values


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    loader = {"cancer": load_breast_cancer, "iris": load_iris, "diabetes": load_diabetes}[name]
    x, y = loader(return_X_y=True)
    return np.asarray(x, dtype=np.float64), np.asarray(y)


CASES: dict[str, tuple[Any, str]] = {
    "standard+logistic (binary)": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), "cancer"),
    "logistic alone (binary)": (LogisticRegression(max_iter=5000), "cancer"),
    "maxabs+logistic (multiclass)": (make_pipeline(MaxAbsScaler(), LogisticRegression(max_iter=2000)), "iris"),
    "minmax+standard+logistic (multiclass)": (
        make_pipeline(MinMaxScaler(), StandardScaler(with_mean=False), LogisticRegression(max_iter=2000)),
        "iris",
    ),
    "passthrough+linear": (make_pipeline("passthrough", LinearRegression()), "diabetes"),
    "standard (no std)+ridge": (make_pipeline(StandardScaler(with_std=False), Ridge(alpha=0.5)), "diabetes"),
    "minmax+lasso": (make_pipeline(MinMaxScaler(feature_range=(-1, 2)), Lasso(alpha=0.1)), "diabetes"),
    "elastic net": (ElasticNet(alpha=0.01), "diabetes"),
}


def _rows(x: np.ndarray) -> list[np.ndarray]:
    return [x[i : i + 1] for i in range(len(x))]


@pytest.mark.parametrize("case", CASES)
def test_the_fold_answers_as_scikit_learn(case: str) -> None:
    estimator, data = CASES[case]
    x, y = _data(data)
    estimator.fit(x, y)
    affine = fold(estimator, x.shape[1])
    assert affine is not None
    expected = estimator.predict(x)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        scale = np.abs(expected).max()
        np.testing.assert_allclose(values(affine, x), expected, rtol=0, atol=1e-9 * scale)
        alone = np.concatenate([values(affine, row, row[0].tolist()) for row in _rows(x)])
        np.testing.assert_allclose(alone, expected, rtol=0, atol=1e-9 * scale)
        return
    assert labels(affine, x, classes).tolist() == expected.tolist()
    alone = [labels(affine, row, classes, row[0].tolist()) for row in _rows(x)]
    assert [a.tolist() for a in alone] == [[e] for e in expected.tolist()]
    assert all(a.dtype == expected.dtype for a in alone)
    np.testing.assert_allclose(probabilities(affine, x), estimator.predict_proba(x), rtol=0, atol=1e-9)


def test_a_multi_target_ridge_answers_one_column_per_target() -> None:
    x, y = _data("diabetes")
    targets = np.column_stack([y, -2 * y + 3])
    ridge = Ridge(alpha=1.0).fit(x, targets)
    affine = fold(ridge, x.shape[1])
    assert affine is not None
    np.testing.assert_allclose(values(affine, x), ridge.predict(x), rtol=1e-12)
    np.testing.assert_allclose(values(affine, x[:1], x[0].tolist()), ridge.predict(x[:1]), rtol=1e-12)


def test_extreme_scores_saturate_without_overflow() -> None:
    """Scores of +-1e6: probabilities 0 and 1 exactly as scikit-learn's, no overflow warning, labels alike."""
    x, y = _data("cancer")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    affine = fold(model, x.shape[1])
    assert affine is not None
    extreme = np.vstack([x[:1] * 1e4, -x[:1] * 1e4, x[:1] + 1e6])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = probabilities(affine, extreme)
    np.testing.assert_allclose(found, model.predict_proba(extreme), rtol=0, atol=1e-12)
    assert labels(affine, extreme, model.classes_).tolist() == model.predict(extreme).tolist()


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(MinMaxScaler(clip=True), LogisticRegression()),  # clipping is not affine
        make_pipeline(PolynomialFeatures(2), LinearRegression()),
        make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3)),
        SGDClassifier(),  # another family: its probabilities are not LogisticRegression's
        type("Tuned", (LogisticRegression,), {})(max_iter=5000),  # a subclass may predict otherwise
        ColumnTransformer([("scale", StandardScaler(), [0, 1])], remainder="passthrough"),
    ],
    ids=["clipping minmax", "polynomial", "forest", "sgd", "subclass", "column transformer"],
)
def test_what_is_not_a_linear_map_is_not_folded(estimator: Any) -> None:
    x, y = _data("cancer")
    try:
        estimator.fit(x, y)
    except Exception:  # the column transformer alone is not a predictor: fitted without a target
        estimator.fit(x)
    assert fold(estimator, x.shape[1]) is None


def test_a_width_other_than_the_model_is_not_folded() -> None:
    x, y = _data("cancer")
    model = LogisticRegression(max_iter=5000).fit(x, y)
    assert fold(model, x.shape[1] - 1) is None
