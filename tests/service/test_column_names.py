"""Column names are checked on every request, also right after the same names were accepted
(`service/protocols/mlflow.py` remembers the last accepted names to skip checking them again)."""

from __future__ import annotations

import orjson
import pytest

from service.errors import ClientError
from service.protocols import mlflow as protocol


def _parse(columns: object) -> protocol.ScoringRequest:
    body = orjson.dumps({"dataframe_split": {"columns": columns, "data": [[1.0, 2.0]]}})
    return protocol.parse(body, "application/json")


@pytest.mark.parametrize(
    ("columns", "message"),
    [(["a", "a"], "more than once"), (["a", 2], "list of column names"), ("ab", "list of column names")],
)
def test_bad_names_are_refused_after_good_ones_were_accepted(columns: object, message: str) -> None:
    assert _parse(["a", "b"]).table.names == ["a", "b"]
    assert _parse(["a", "b"]).table.names == ["a", "b"]  # the remembered names
    with pytest.raises(ClientError, match=message):
        _parse(columns)


def test_names_accepted_once_are_accepted_again_after_a_refusal() -> None:
    assert _parse(["x", "y"]).table.names == ["x", "y"]
    with pytest.raises(ClientError):
        _parse(["x", "x"])
    assert _parse(["x", "y"]).table.names == ["x", "y"]
