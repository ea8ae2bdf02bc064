"""Hostile request bodies for `/invocations` and the V2 infer route, built from one valid demo row."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

JSON = "application/json"
THREE_MB = 3 * 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    """A raw request; `ok_rows` is the prediction count a 200 must carry (None: a 200 is wrong)."""

    body: bytes
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)
    ok_rows: int | None = None


def _split(row: dict[str, Any], **cells: Any) -> bytes:
    values = {**row, **cells}
    return json.dumps({"dataframe_split": {"columns": list(values), "data": [list(values.values())]}}).encode()


def _literal(row: dict[str, Any], literal: str) -> bytes:
    """A JSON text with `literal` (NaN, Infinity, 1e400: not valid JSON numbers) in the first numeric cell."""
    return _split(row, mean_radius="@@").replace(b'"@@"', literal.encode())


def invocations_cases(row: dict[str, Any]) -> dict[str, Hostile]:
    valid = _split(row)
    many = {**row, **{f"extra_{i}": float(i) for i in range(10_000)}}
    return {
        "NaN literal": Hostile(_literal(row, "NaN")),
        "Infinity literal": Hostile(_literal(row, "Infinity")),
        "-Infinity literal": Hostile(_literal(row, "-Infinity")),
        "1e400 beyond float range": Hostile(_literal(row, "1e400")),
        "-1e400 beyond float range": Hostile(_literal(row, "-1e400")),
        "1e400 as a CSV cell": Hostile(_csv(row, mean_radius="1e400"), "text/csv"),
        "object in a cell": Hostile(_split(row, mean_radius={"a": 1})),
        "list in a cell": Hostile(_split(row, mean_radius=[1, 2])),
        "object in a string cell": Hostile(_split(row, size_band={"$gt": ""})),
        "100,000-deep list": Hostile(b"[" * 100_000 + b"]" * 100_000),
        "100,000-deep inputs": Hostile(b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "3 MB string cell": Hostile(_split(row, size_band="x" * THREE_MB), ok_rows=1),
        "3 MB numeric-looking cell": Hostile(_split(row, mean_radius="9" * THREE_MB)),
        # `mlflow models serve` reads UTF-16 JSON and booleans as numbers: so does /invocations now.
        "UTF-16 with BOM": Hostile(valid.decode().encode("utf-16"), ok_rows=1),
        "UTF-16 without BOM": Hostile(valid.decode().encode("utf-16-le"), ok_rows=1),
        "UTF-16 declared": Hostile(valid.decode().encode("utf-16"), "application/json; charset=utf-16"),
        "binary CSV": Hostile(os.urandom(4096), "text/csv"),
        "CSV with NUL bytes": Hostile(_csv(row).replace(b",", b"\x00,", 3), "text/csv"),
        "binary as Parquet": Hostile(os.urandom(4096), "application/vnd.apache.parquet"),
        "empty JSON body": Hostile(b""),
        "empty CSV body": Hostile(b"", "text/csv"),
        "no content type": Hostile(valid, None),
        "null": Hostile(b"null"),
        "duplicate format keys": Hostile(valid[:-1] + b', "dataframe_split": {"data": []}}'),
        "duplicate column keys": Hostile(
            json.dumps({"dataframe_records": [row]}).encode()[:-3] + b', "mean_radius": 1.0}]}', ok_rows=1
        ),
        "10,000 extra columns": Hostile(
            json.dumps({"dataframe_split": {"columns": list(many), "data": [list(many.values())]}}).encode(), ok_rows=1
        ),
        "1 MB header": Hostile(valid, headers={"X-Padding": "a" * 1_000_000}, ok_rows=1),
        "bool for a number": Hostile(_split(row, mean_radius=True), ok_rows=1),
        "huge integer": Hostile(_split(row, mean_radius=10**400)),
    }


def v2_cases(row: dict[str, Any], schema: list[tuple[str, str]]) -> dict[str, Hostile]:
    def body(inputs: list[dict[str, Any]] | Any) -> bytes:
        return json.dumps({"inputs": inputs}).encode()

    def tensors(**override: Any) -> list[dict[str, Any]]:
        out = []
        for name, datatype in schema:
            tensor = {"name": name, "shape": [1], "datatype": datatype, "data": [row[name]]}
            tensor.update(override.get(name, {}))
            out.append(tensor)
        return out

    first, _ = schema[0]
    return {
        "valid (control)": Hostile(body(tensors()), ok_rows=1),
        "shape says 2, data has 1": Hostile(body(tensors(**{first: {"shape": [2]}}))),
        "shape says 1, data has 3": Hostile(body(tensors(**{first: {"data": [1.0, 2.0, 3.0]}}))),
        "negative shape": Hostile(body(tensors(**{first: {"shape": [-1]}}))),
        "huge shape": Hostile(body(tensors(**{first: {"shape": [2**63, 2**63]}}))),
        "float shape": Hostile(body(tensors(**{first: {"shape": [1.5]}}))),
        "three-dimensional shape": Hostile(body(tensors(**{first: {"shape": [1, 1, 1]}}))),
        "[n, k] with k*n mismatch": Hostile(
            body([{"name": "x", "shape": [2, 31], "datatype": "FP64", "data": [1.0] * 31}])
        ),
        "unknown datatype": Hostile(body(tensors(**{first: {"datatype": "FP128"}}))),
        "strings in FP64": Hostile(body(tensors(**{first: {"data": ["abc"]}}))),
        "object in data": Hostile(body(tensors(**{first: {"data": [{"a": 1}]}}))),
        "NaN literal": Hostile(body(tensors(**{first: {"data": ["@@"]}})).replace(b'"@@"', b"NaN")),
        "1e400": Hostile(body(tensors(**{first: {"data": ["@@"]}})).replace(b'"@@"', b"1e400")),
        "100,000-deep data": Hostile(
            body(tensors(**{first: {"data": ["@@"]}})).replace(b'"@@"', b"[" * 100_000 + b"]" * 100_000)
        ),
        "20-deep data": Hostile(
            body(tensors(**{first: {"data": ["@@"]}})).replace(b'"@@"', b"[" * 20 + b"1" + b"]" * 20)
        ),
        "3 MB BYTES cell": Hostile(body(tensors(size_band={"data": ["x" * THREE_MB]})), ok_rows=1),
        "inputs is an object": Hostile(body({"name": first})),
        "inputs is empty": Hostile(body([])),
        "tensor is a string": Hostile(body(["x"])),
        "empty body": Hostile(b""),
        "null": Hostile(b"null"),
        "UTF-16 with BOM": Hostile(body(tensors()).decode().encode("utf-16")),
        "duplicate inputs": Hostile(body(tensors() + tensors()[:1])),
        "parameters is a list": Hostile(json.dumps({"inputs": tensors(), "parameters": [1]}).encode()),
    }


def _csv(row: dict[str, Any], **cells: Any) -> bytes:
    return str(pd.DataFrame([{**row, **cells}]).to_csv(index=False)).encode()
