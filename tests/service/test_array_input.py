"""Which fitted scikit-learn models are handed a 2-D array instead of a DataFrame, and that both agree.

In process, on real fitted estimators: the decision is made once at load time from the estimator, the
signature and the input example, so no server is needed to exercise it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from service.loaded_model import _takes_array
from service.schema import ColumnSpec, InputSchema

ROWS = 60


def _numeric(names: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(ROWS, len(names))), columns=names)


def _labels() -> np.ndarray:
    return np.arange(ROWS) % 2


def _schema(frame: pd.DataFrame) -> InputSchema:
    kinds = {"float64": "double", "int64": "long"}
    return InputSchema(tuple(ColumnSpec(str(c), kinds.get(str(frame[c].dtype), "string")) for c in frame.columns))


def test_numeric_pipeline_fitted_on_the_signature_takes_arrays() -> None:
    data = _numeric(["a", "b", "c"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data, _labels())
    assert _takes_array(model, _schema(data), data.head(5))


def test_columns_fitted_in_another_order_keep_dataframes() -> None:
    data = _numeric(["a", "b", "c"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data[["c", "a", "b"]], _labels())
    assert not _takes_array(model, _schema(data), data.head(5))


def test_column_transformer_selecting_by_name_keeps_dataframes() -> None:
    data = _numeric(["a", "b"])
    selector = ColumnTransformer([("scale", StandardScaler(), ["b"])])
    model = make_pipeline(selector, LogisticRegression()).fit(data, _labels())
    assert not _takes_array(model, _schema(data), data.head(5))


def test_string_inputs_keep_dataframes() -> None:
    data = _numeric(["a"]).assign(band=["small", "large"] * (ROWS // 2))
    encode = ColumnTransformer([("band", OneHotEncoder(), ["band"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(data, _labels())
    assert not _takes_array(model, _schema(data), data.head(5))


@pytest.mark.parametrize("example", [None, "empty"])
def test_without_an_input_example_the_decision_is_dataframes(example: str | None) -> None:
    data = _numeric(["a", "b"])
    model = LogisticRegression().fit(data, _labels())
    given = data.head(0) if example == "empty" else None
    assert not _takes_array(model, _schema(data), given)
