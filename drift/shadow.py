"""The shadow's output in the capture rows (schema 3), and which rows agree with production.

The service writes, beside `_prediction`, the output of the version it shadows with (`@SHADOW_ALIAS`):
`_shadow_version`, `_shadow_prediction` (same type as `_prediction`), `_shadow_probabilities` and
`_shadow_error` (null when the shadow scored the row; `"dropped"` when its queue was full and the row was
never scored; else the exception's type). Files of schema 1 and 2 have none of these columns.

A row is *shadowed* when the shadow scored it or failed on it (a dropped row is neither: the shadow never
saw it); *compared* when both outputs are there; it *agrees* when the outputs are the same answer, as the
service's shadow metrics count it: labels identical (text, or numbers that are whole on every row, which
is how a classifier's numeric classes are captured), other numbers (a regressor's) when
|shadow - production| <= atol + rtol * |production|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api import types

from drift.shadow_settings import Tolerance

MODEL_VERSION = "_model_version"
PREDICTION = "_prediction"
SHADOW_VERSION = "_shadow_version"
SHADOW_PREDICTION = "_shadow_prediction"
SHADOW_PROBABILITIES = "_shadow_probabilities"
SHADOW_ERROR = "_shadow_error"
DROPPED = "dropped"
COLUMNS = (MODEL_VERSION, PREDICTION, SHADOW_VERSION, SHADOW_PREDICTION, SHADOW_ERROR)
"""What the gate and the report read of the capture (besides the inputs, for the report)."""


def has_shadow(frame: pd.DataFrame) -> bool:
    """Whether any captured row carries a shadow's output (schema 3 with shadowing on)."""
    return SHADOW_VERSION in frame.columns and bool(frame[SHADOW_VERSION].notna().any())


def _whole(values: NDArray[np.float64]) -> bool:
    """Whether every present value is a whole number (labels), not a measurement."""
    present = values[~np.isnan(values)]
    return bool(np.all(present == np.round(present)))


def agreeing(production: pd.Series, shadow: pd.Series, tolerance: Tolerance) -> NDArray[np.bool_]:
    """Per row, whether the two outputs are the same answer (rows where either is missing: False)."""
    both = (production.notna() & shadow.notna()).to_numpy()
    if types.is_numeric_dtype(production.dtype) and types.is_numeric_dtype(shadow.dtype):
        a = production.to_numpy(dtype=np.float64, na_value=np.nan)
        b = shadow.to_numpy(dtype=np.float64, na_value=np.nan)
        if _whole(a) and _whole(b):
            return np.asarray(both & (a == b), dtype=np.bool_)
        close = np.abs(b - a) <= tolerance.atol + tolerance.rtol * np.abs(a)
        return np.asarray(both & close, dtype=np.bool_)
    same = production.astype(str).to_numpy() == shadow.astype(str).to_numpy()
    return np.asarray(both & same, dtype=np.bool_)


@dataclass(frozen=True)
class ShadowCounts:
    """What the captured rows of one shadow version say about it."""

    rows: int
    """Rows captured with this shadow version (dropped ones included)."""
    shadowed: int
    compared: int
    agreeing: int
    errors: int
    dropped: int

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.compared if self.compared else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.shadowed if self.shadowed else None

    def as_dict(self) -> dict[str, int | float | None]:
        return {
            "rows": self.rows,
            "shadowed": self.shadowed,
            "compared": self.compared,
            "agreeing": self.agreeing,
            "errors": self.errors,
            "dropped": self.dropped,
            "agreement": self.agreement,
            "error_rate": self.error_rate,
        }


def compared_mask(rows: pd.DataFrame) -> NDArray[np.bool_]:
    """Rows the shadow scored without error and whose two outputs are both there."""
    fine = rows[SHADOW_ERROR].isna() if SHADOW_ERROR in rows.columns else pd.Series(True, index=rows.index)
    outputs = rows[PREDICTION].notna() & rows[SHADOW_PREDICTION].notna()
    return np.asarray((fine & outputs).to_numpy(), dtype=np.bool_)


def count(rows: pd.DataFrame, tolerance: Tolerance) -> ShadowCounts:
    """The counts of rows that all carry the same `_shadow_version`."""
    errors_column = rows[SHADOW_ERROR] if SHADOW_ERROR in rows.columns else pd.Series(None, index=rows.index)
    dropped = int((errors_column == DROPPED).sum())
    errors = int(errors_column.notna().sum()) - dropped
    compared = compared_mask(rows)
    agree = agreeing(rows[PREDICTION], rows[SHADOW_PREDICTION], tolerance) & compared
    return ShadowCounts(
        rows=len(rows),
        shadowed=len(rows) - dropped,
        compared=int(compared.sum()),
        agreeing=int(agree.sum()),
        errors=errors,
        dropped=dropped,
    )
