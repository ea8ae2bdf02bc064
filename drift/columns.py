"""Which test each feature gets, and whether the captured columns can be compared with the reference.

A feature is numeric (KS) when its reference column has a numeric dtype other than bool; text (pandas
`str`), object, bool and category columns are categorical (chi-square), as is any column the user
declares with `--categorical` (integer codes, for instance, whose order means nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd
from pandas.api import types

from drift import DriftError
from drift.stats import Kind

Rows = TypeVar("Rows", pd.DataFrame, pd.Series)


def feature_kinds(reference: pd.DataFrame, declared_categorical: Sequence[str] = ()) -> dict[str, Kind]:
    """The kind of every reference column; declaring a column that is not in the reference is an error."""
    unknown = [name for name in declared_categorical if name not in reference.columns]
    if unknown:
        raise DriftError(
            f"--categorical names columns that are not in the reference: {', '.join(unknown)} "
            f"(reference columns: {', '.join(map(str, reference.columns))})"
        )
    kinds: dict[str, Kind] = {}
    for name in reference.columns:
        dtype = reference[name].dtype
        numeric = types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype)
        kinds[str(name)] = "numeric" if numeric and name not in declared_categorical else "categorical"
    return kinds


def mismatch_error(model: str, mismatched: Mapping[str, Sequence[str]]) -> DriftError:
    """The error for a window whose every file lacks columns of the reference, naming the columns."""
    missing = sorted({column for columns in mismatched.values() for column in columns})
    return DriftError(
        f"capture files of model {model!r} do not match its reference: missing column(s) "
        f"{', '.join(missing)} in {len(mismatched)} file(s) of the window"
    )


def check_capture_types(kinds: Mapping[str, Kind], current: pd.DataFrame) -> None:
    """Numeric features must be captured as numbers; text where the reference has numbers is an error."""
    wrong = [
        f"{name} ({current[name].dtype})"
        for name, kind in kinds.items()
        if kind == "numeric" and not types.is_numeric_dtype(current[name].dtype) and current[name].notna().any()
    ]
    if wrong:
        listed = ", ".join(wrong)
        raise DriftError(f"capture columns do not match the reference: numeric there, not in the capture: {listed}")


def subsample(frame: Rows, max_rows: int, seed: int = 0) -> Rows:
    """At most `max_rows` rows drawn without replacement with a fixed seed, in their original order.

    The draw depends only on the row count, so a frame and a Series of as many rows get the same rows.
    """
    if len(frame) <= max_rows:
        return frame
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[rows].reset_index(drop=True)
