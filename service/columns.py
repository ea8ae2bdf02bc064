"""Checked columns (signature name → typed array), and the forms a model takes them in.

The all-double check keeps its float matrix (`MatrixColumns`): readers that want the whole block (the
model's array or frame, the capture writer, a merged batch) take it at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

Columns = Mapping[str, np.ndarray]
"""Signature name → the column's typed values, in signature order."""


class MatrixColumns(Mapping[str, np.ndarray]):
    """Columns that are the rows of one C-ordered (columns × rows) matrix, kept as `matrix`.

    What the all-double check produces. A column is a view made when asked for, not stored: readers that
    want the whole block (the model's array or frame, the capture writer, a merged batch) take it at once,
    and a request waiting in the capture queue holds one matrix, not ~30 small arrays (~6 KB a one-row
    request: 50 MiB of a server's peak at 10,000 rows waiting for the flush, bench/profile.md).
    """

    __slots__ = ("_index", "matrix", "names")

    def __init__(self, names: list[str], matrix: np.ndarray, index: dict[str, int] | None = None) -> None:
        if len(names) != len(matrix):
            raise ValueError(f"{len(names)} names for a matrix of {len(matrix)} columns")
        self.names = names
        self.matrix = matrix
        self._index = index if index is not None else {name: i for i, name in enumerate(names)}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.matrix[self._index[name]]  # type: ignore[no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def matrix_of(columns: Columns) -> np.ndarray | None:
    """The (columns × rows) block behind `columns`, or None when they are separate arrays."""
    return columns.matrix if isinstance(columns, MatrixColumns) else None


def stacked(columns: Columns) -> np.ndarray:
    """The (rows × columns) array a model that takes arrays sees; the checker's matrix when it has one."""
    if (matrix := matrix_of(columns)) is not None:
        return np.ascontiguousarray(matrix.T)
    return np.column_stack(list(columns.values()))


def frame(columns: Columns) -> pd.DataFrame:
    """The DataFrame a model sees: one column per signature input, in signature order.

    Columns of one numeric dtype are stacked into a single 2-D block first: pandas builds a frame from
    one block several times faster than from one array per column.
    """
    if (matrix := matrix_of(columns)) is not None:  # (columns × rows): pandas keeps it as its block, no copy
        return pd.DataFrame(matrix.T, columns=list(columns), copy=False)
    arrays = list(columns.values())
    if len(arrays) > 1 and arrays[0].dtype.kind in "fiub" and all(a.dtype == arrays[0].dtype for a in arrays):
        return pd.DataFrame(np.column_stack(arrays), columns=list(columns), copy=False)
    return pd.DataFrame(columns, copy=False)
