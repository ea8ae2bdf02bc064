"""What a request's rows look like after parsing, before they are checked against the signature."""

from __future__ import annotations

from typing import Any

import numpy as np

from service.errors import bad_request

Column = list[Any] | np.ndarray


class RawTable:
    """Rows from any protocol, as named columns or as positional rows (signature order).

    `text` is true when every cell arrived as text (CSV): the checker then parses numbers itself.
    """

    __slots__ = ("_columns", "n_rows", "named_rows", "names", "rows", "text")

    def __init__(
        self,
        columns: dict[str, Column] | None = None,
        rows: list[list[Any]] | None = None,
        n_rows: int = 0,
        text: bool = False,
        named_rows: list[list[Any]] | None = None,
        names: list[str] | None = None,
    ) -> None:
        self._columns = columns
        self.rows = rows
        self.n_rows = n_rows
        self.text = text
        self.named_rows = named_rows
        """Rows of values named by `names`, one value per name (`dataframe_split`): a checker whose
        signature has these names in this order takes the matrix from them at once, and `columns` is
        only built (transposed) when someone asks for it."""
        self.names = names

    @property
    def columns(self) -> dict[str, Column]:
        if self._columns is None:
            names = self.names or []
            if self.named_rows:
                self._columns = dict(zip(names, map(list, zip(*self.named_rows, strict=True)), strict=True))
            else:
                self._columns = {name: [] for name in names}
        return self._columns

    @classmethod
    def from_columns(cls, columns: dict[str, Column], text: bool = False) -> RawTable:
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            detail = ", ".join(f"'{name}' has {len(values)}" for name, values in columns.items())
            raise bad_request(f"columns have different numbers of values: {detail}")
        return cls(columns=columns, n_rows=lengths.pop() if lengths else 0, text=text)

    @classmethod
    def from_records(cls, records: list[Any], where: str) -> RawTable:
        """A list of `{column: value}` objects; a key missing from a record is a missing value."""
        names: dict[str, None] = {}
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise bad_request(f"{where}: row {i} is {_kind(record)}, expected an object of column values")
            names.update(dict.fromkeys(record))
        columns: dict[str, Column] = {name: [r.get(name) for r in records] for name in names}
        return cls(columns=columns, n_rows=len(records))

    @classmethod
    def from_rows(cls, rows: list[Any], where: str, columns: list[str] | None = None) -> RawTable:
        """A list of rows of values; named by `columns` when given, else by position in the signature."""
        width = len(columns) if columns is not None else None
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise bad_request(f"{where}: row {i} is {_kind(row)}, expected a list of values")
            if width is None:
                width = len(row)
            if len(row) != width:
                raise bad_request(f"{where}: row {i} has {len(row)} values, expected {width} (ragged rows)")
        if columns is None:
            return cls(rows=rows, n_rows=len(rows))
        return cls(n_rows=len(rows), named_rows=rows, names=columns)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def describe(value: object) -> str:
    """A short, safe description of a client's value for an error message (never the whole value)."""
    kind = _kind(value)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = repr(value)
        return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}"
    return kind
