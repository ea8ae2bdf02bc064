"""Checks a request's rows against the model signature, column by column, and types them.

The rules (documented in the README):
- every required column of the signature must be present; columns may come in any order;
- columns the signature does not name are dropped (as `mlflow models serve` does) and listed in the
  `X-Ignored-Columns` response header;
- doubles accept JSON numbers (integers too), longs accept integral numbers, strings accept strings,
  booleans accept booleans; anything else is a 400 naming the column, the row and what was found;
- null / NaN is refused unless the column is optional in the signature or the estimator accepts
  missing values (scikit-learn's `allow_nan` tag); infinity is refused.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from service.columns import Columns, MatrixColumns
from service.errors import bad_request
from service.table import Column, RawTable, describe

NUMERIC = {"double": np.float64, "float": np.float32, "long": np.int64, "integer": np.int32}
SCALAR_TYPES = {*NUMERIC, "string", "boolean"}
_TRUE = {"true", "True", "TRUE", "1"}
_FALSE = {"false", "False", "FALSE", "0"}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class InputSchema:
    """The column-based signature of a model; `allow_missing` when the estimator takes NaN."""

    columns: tuple[ColumnSpec, ...]
    allow_missing: bool = False

    @cached_property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def _name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def _doubles_only(self) -> bool:
        """Every column is a double: a request of plain numbers becomes one float64 matrix at once."""
        return all(c.type == "double" for c in self.columns)

    def check(self, table: RawTable) -> tuple[Columns, list[str]]:
        """Typed columns in signature order, and the names of the columns that were ignored."""
        if table.n_rows == 0:
            raise bad_request("the request has no rows")
        if self._doubles_only and not table.text and (fast := self._check_doubles(table)) is not None:
            return fast
        source = self._named(table)
        seen = set(source)
        ignored = [name for name in source if name not in self._name_set]
        missing = [c.name for c in self.columns if c.required and c.name not in seen]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:10]) + (
                f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            )
            raise bad_request(f"missing column(s) {shown}: the model's signature requires them")
        typed: dict[str, np.ndarray] = {}
        for spec in self.columns:
            if spec.name not in source:
                typed[spec.name] = _all_missing(spec, table.n_rows)
                continue
            typed[spec.name] = _check_column(spec, source[spec.name], table.text, self._may_be_missing(spec))
        return typed, ignored

    def _check_doubles(self, table: RawTable) -> tuple[Columns, list[str]] | None:
        """The vectorised path for all-double signatures and values that are all JSON numbers.

        None hands the table to the column-by-column path, which also words every error: anything
        unusual (a missing column, a null, a string, a boolean, a width mismatch) goes there.
        """
        rows = table.rows
        if rows is None and table.named_rows is not None and table.names == self.names:
            rows = table.named_rows  # named in signature order: positional rows
        if rows is not None:
            if len(rows[0]) != len(self.columns):
                return None
            cells: list[Any] = rows
            ignored: list[str] = []
        else:
            source = table.columns
            if not all(name in source for name in self.names):
                return None
            cells = [source[name] for name in self.names]
            if not all(type(values) is list for values in cells):
                return None
            ignored = [name for name in source if name not in self._name_set] if len(source) > len(self.names) else []
        if not set(map(type, chain.from_iterable(cells))) <= {float, int}:
            return None
        try:
            matrix = np.array(cells, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            return None
        if matrix.ndim != 2 or not np.isfinite(matrix).all():
            return None
        if rows is not None:
            matrix = matrix.T.copy()  # C order: each column's values contiguous (`ascontiguousarray` keeps a
            # one-row matrix as a view)
        return MatrixColumns(self.names, matrix, self._index), ignored

    def _named(self, table: RawTable) -> dict[str, Column]:
        if table.rows is None:
            return table.columns
        width = len(table.rows[0])
        if width != len(self.columns):
            raise bad_request(
                f"rows have {width} values but the model's signature has {len(self.columns)} columns "
                f"({', '.join(self.names[:5])}{', ...' if len(self.columns) > 5 else ''}); "
                "send named columns or one value per signature column, in signature order"
            )
        return {spec.name: [row[j] for row in table.rows] for j, spec in enumerate(self.columns)}

    def _may_be_missing(self, spec: ColumnSpec) -> bool:
        return not spec.required or (self.allow_missing and spec.type in NUMERIC)


def _all_missing(spec: ColumnSpec, n: int) -> np.ndarray:
    if spec.type in ("double", "float"):
        return np.full(n, np.nan, dtype=NUMERIC[spec.type])
    return np.full(n, None, dtype=object)


def _check_column(spec: ColumnSpec, values: Column, text: bool, may_be_missing: bool) -> np.ndarray:
    if text:
        return _parse_text_column(spec, values, may_be_missing)
    array = values if isinstance(values, np.ndarray) else _as_array(values)
    kind = array.dtype.kind
    if spec.type in NUMERIC:
        if kind == "f":
            _refuse_missing(spec, np.isnan(array), may_be_missing)
            _refuse_infinite(spec, array)
            if spec.type in ("long", "integer"):
                _refuse_fractions(spec, array)
            return array.astype(NUMERIC[spec.type], copy=False)
        if kind in "iu":
            return array.astype(NUMERIC[spec.type], copy=False)
        return _from_objects(spec, array, may_be_missing)
    if spec.type == "boolean" and kind == "b":
        return array
    if spec.type == "string" and kind in "UT":
        return array.astype(object)
    return _from_objects(spec, array, may_be_missing)


def _as_array(values: list[Any]) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):  # nested lists of uneven length and the like
        array = np.empty(len(values), dtype=object)
        array[:] = values
    if array.ndim != 1:
        flat = np.empty(len(values), dtype=object)
        flat[:] = list(values)
        return flat
    kind = array.dtype.kind
    if (kind == "f" and any(type(v) is bool for v in values)) or (
        kind == "U" and not all(type(v) is str for v in values)
    ):
        mixed = np.empty(len(values), dtype=object)  # numpy would have turned True into 1.0, or 5 into "5"
        mixed[:] = values
        return mixed
    return array


def _from_objects(spec: ColumnSpec, array: np.ndarray, may_be_missing: bool) -> np.ndarray:
    """The slow path: look at each value, and name the first that does not fit."""
    values = array.tolist()
    missing = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))
    _refuse_missing(spec, missing, may_be_missing)
    for row, value in enumerate(values):
        if not missing[row] and not _fits(spec.type, value):
            raise bad_request(f"column '{spec.name}' expects {spec.type} values, got {describe(value)} at row {row}")
    if spec.type in ("double", "float"):
        typed = np.array([math.nan if m else v for v, m in zip(values, missing, strict=True)], NUMERIC[spec.type])
        _refuse_infinite(spec, typed)
        return typed
    if spec.type in NUMERIC:
        return np.array(values, dtype=NUMERIC[spec.type])
    out = np.empty(len(values), dtype=object)
    out[:] = [None if m else v for v, m in zip(values, missing, strict=True)]
    return out


def _fits(kind: str, value: object) -> bool:
    if kind in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("long", "integer"):
        return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    if kind == "boolean":
        return isinstance(value, bool | np.bool_)
    return isinstance(value, str)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _refuse_missing(spec: ColumnSpec, missing: np.ndarray, may_be_missing: bool) -> None:
    if may_be_missing or not missing.any():
        return
    rows = np.flatnonzero(missing)
    raise bad_request(
        f"column '{spec.name}' has {len(rows)} missing value(s) (null or NaN), first at row {rows[0]}; "
        "the model's signature requires a value"
    )


def _refuse_infinite(spec: ColumnSpec, array: np.ndarray) -> None:
    """Infinity (or a number beyond the float range) is refused: no estimator takes it (MLflow: 400 too)."""
    infinite = np.flatnonzero(np.isinf(array))
    if len(infinite):
        raise bad_request(
            f"column '{spec.name}' has an infinite or out-of-range value at row {int(infinite[0])}; "
            "the model takes finite numbers"
        )


def _refuse_fractions(spec: ColumnSpec, array: np.ndarray) -> None:
    fractional = np.flatnonzero(array != np.floor(array))
    if len(fractional):
        row = int(fractional[0])
        raise bad_request(
            f"column '{spec.name}' expects {spec.type} values, got {describe(float(array[row]))} at row {row}"
        )


def _parse_text_column(spec: ColumnSpec, values: Column, may_be_missing: bool) -> np.ndarray:
    """CSV cells arrive as text (missing cells as NaN): parse them by the signature's type."""
    series = pd.Series(values, dtype=object)
    missing = series.isna().to_numpy()
    _refuse_missing(spec, missing, may_be_missing)
    if spec.type in NUMERIC:
        parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = (np.isnan(parsed) & ~missing) | np.isinf(parsed)
        if spec.type in ("long", "integer"):
            bad |= ~np.isnan(parsed) & (parsed != np.floor(parsed))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise bad_request(
                f"column '{spec.name}' expects {spec.type} values, got {describe(series.iloc[row])} at row {row}"
            )
        typed: np.ndarray = parsed.astype(NUMERIC[spec.type])
        return typed
    if spec.type == "boolean":
        cells = series.to_numpy()
        bad = ~missing & ~np.isin(cells, list(_TRUE | _FALSE))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise bad_request(f"column '{spec.name}' expects boolean values, got {describe(cells[row])} at row {row}")
        return np.isin(cells, list(_TRUE))
    out: np.ndarray = series.to_numpy(dtype=object, copy=True)
    out[missing] = None
    return out


_SHARED: weakref.WeakValueDictionary[InputSchema, InputSchema] = weakref.WeakValueDictionary()


def shared(schema: InputSchema) -> InputSchema:
    """The one checker of this signature in the process. Versions and models with equal signatures share it
    (its names, index and name set), so requests spread over many of them read one copy, not one each."""
    return _SHARED.setdefault(schema, schema)
