"""MLflow's scoring protocol (`POST /invocations`), as `mlflow models serve` speaks it.

JSON with exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs` (plus optional
`params`), CSV, or Parquet. Translation only: no model, no HTTP.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from service.errors import ClientError, bad_request, unsupported_media
from service.table import RawTable, describe

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
CONTENT_TYPES = (JSON, CSV, PARQUET)
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PREDICT_METHOD_PARAM = "predict_method"


@dataclass
class ScoringRequest:
    table: RawTable
    params: dict[str, Any] | None
    method: str


def parse(body: bytes, content_type: str | None) -> ScoringRequest:
    mime = mime_type(content_type)
    if mime == JSON:
        return _parse_json(body)
    if mime == CSV:
        return ScoringRequest(_parse_csv(body), None, "predict")
    return ScoringRequest(_parse_parquet(body), None, "predict")


def response(predictions: Any, classes: list[Any] | None = None) -> bytes:
    body: dict[str, Any] = {"predictions": jsonable(predictions)}
    if classes is not None:
        body["classes"] = classes
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def jsonable(predictions: Any) -> Any:
    """What `mlflow models serve` returns: arrays as lists, frames as records."""
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return predictions.tolist()
    if isinstance(predictions, np.ndarray):
        return predictions.tolist() if predictions.dtype.kind in "OUSMm" else predictions
    return predictions


@functools.lru_cache(maxsize=256)
def mime_type(content_type: str | None) -> str:
    """The media type, refused with 415 unless it is one MLflow serves (UTF-8 only). Clients send the same
    few values: each is read once (a refused one is not remembered: the cache keeps no exception)."""
    if not content_type:
        raise unsupported_media(f"missing Content-Type: use one of {', '.join(CONTENT_TYPES)}")
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset":
            raise unsupported_media(f"unrecognized Content-Type parameter {key.strip()!r}")
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise unsupported_media(f"charset {value.strip()!r} is not supported: send UTF-8")
    if mime not in CONTENT_TYPES:
        raise unsupported_media(f"Content-Type {mime!r} is not supported: use one of {', '.join(CONTENT_TYPES)}")
    return mime


def _parse_json(body: bytes) -> ScoringRequest:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict):
        raise bad_request(
            f"the body must be a JSON object with exactly one of {', '.join(FORMATS)}; got {describe(document)}"
        )
    keys = [key for key in FORMATS if key in document]
    if len(keys) != 1:
        raise bad_request(
            f"the body must have exactly one of {', '.join(FORMATS)}; got {sorted(document) or 'no keys'}"
        )
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise bad_request(f"'params' must be an object, got {describe(params)}")
    method = _method(params)
    key = keys[0]
    return ScoringRequest(_table(key, document[key]), params, method)


def _method(params: dict[str, Any] | None) -> str:
    method = (params or {}).get(PREDICT_METHOD_PARAM, "predict")
    if method not in ("predict", "predict_proba"):
        raise ClientError(
            f"params.{PREDICT_METHOD_PARAM} must be 'predict' or 'predict_proba', got {describe(method)}",
            400,
            "INVALID_PARAMETER_VALUE",
        )
    return str(method)


def _table(key: str, payload: Any) -> RawTable:
    if key == "dataframe_split":
        if not isinstance(payload, dict):
            raise bad_request(f"dataframe_split must be an object with 'columns' and 'data', got {describe(payload)}")
        data = payload.get("data")
        if not isinstance(data, list):
            raise bad_request(f"dataframe_split.data must be a list of rows, got {describe(data)}")
        columns = payload.get("columns")
        if columns is not None:
            _check_names(columns, "dataframe_split.columns")
        return RawTable.from_rows(data, "dataframe_split.data", columns)
    if key == "dataframe_records":
        if not isinstance(payload, list):
            raise bad_request(f"dataframe_records must be a list of objects, got {describe(payload)}")
        return RawTable.from_records(payload, "dataframe_records")
    if isinstance(payload, dict):
        columns = {str(name): values if isinstance(values, list) else [values] for name, values in payload.items()}
        return RawTable.from_columns(columns)
    if not isinstance(payload, list):
        raise bad_request(f"{key} must be a list of rows or an object of columns, got {describe(payload)}")
    if payload and all(isinstance(row, dict) for row in payload):
        return RawTable.from_records(payload, key)
    return RawTable.from_rows(payload, key)


_accepted: list[list[str]] = [[]]
"""The column names last accepted (`_check_names`): clients send the same names request after request."""


def _check_names(columns: Any, where: str) -> None:
    """Plain strings, each once. Names equal to the last accepted ones pass at once: comparing 30 names costs
    ~1 µs, checking them ~4 (their types, then a set of them). Only a list of plain strings is ever kept, and
    nothing else compares equal to one (JSON, CSV and Parquet give plain `str`)."""
    if columns == _accepted[0] and columns:
        return
    if not isinstance(columns, list) or not set(map(type, columns)) <= {str}:  # JSON and CSV give plain str
        raise bad_request(f"{where} must be a list of column names")
    if len(set(columns)) == len(columns):
        _accepted[0] = columns
        return
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise bad_request(f"{where} names column(s) {duplicates} more than once")


def _parse_csv(body: bytes) -> RawTable:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the CSV body is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if "\x00" in text:
        raise bad_request("the CSV body contains NUL bytes: is it binary?")
    try:
        header = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise bad_request(f"malformed CSV header: {exc}") from None
    if not header:
        raise bad_request("the CSV body is empty: send a header line with column names, then rows")
    _check_names(header, "the CSV header")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise bad_request(f"malformed CSV: {str(exc).strip()}") from None
    return RawTable.from_columns({name: frame[name].to_numpy(dtype=object) for name in frame.columns}, text=True)


def _parse_parquet(body: bytes) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_request(f"malformed Parquet: {exc}") from None
    _check_names(table.column_names, "the Parquet schema")
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            columns[name] = column.to_numpy(zero_copy_only=False)
        except (pa.ArrowException, ValueError) as exc:
            raise bad_request(f"Parquet column '{name}' of type {column.type} cannot be read: {exc}") from None
    return RawTable.from_columns(columns)
