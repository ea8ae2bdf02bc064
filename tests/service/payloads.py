"""The same rows in every wire format `/invocations` accepts."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

JSON = "application/json"


def features(frame: pd.DataFrame, n: int = 7, seed: int = 3) -> pd.DataFrame:
    return frame.drop(columns="target").sample(n, random_state=seed).reset_index(drop=True)


def all_formats(rows: pd.DataFrame) -> dict[str, tuple[bytes, str]]:
    """name -> (body, content type), every format the MLflow scoring protocol defines."""
    records = json.loads(rows.to_json(orient="records"))
    split = json.loads(rows.to_json(orient="split", index=False))
    columns = {c: rows[c].tolist() for c in rows.columns}
    parquet = io.BytesIO()
    rows.to_parquet(parquet)
    return {
        "dataframe_split": (_json({"dataframe_split": split}), JSON),
        "dataframe_records": (_json({"dataframe_records": records}), JSON),
        "instances": (_json({"instances": records}), JSON),
        "inputs-columns": (_json({"inputs": columns}), JSON),
        "csv": (rows.to_csv(index=False).encode(), "text/csv"),
        "parquet": (parquet.getvalue(), "application/vnd.apache.parquet"),
        "reordered-columns": (_json({"dataframe_split": _reordered(split)}), JSON),
        "json-charset": (_json({"dataframe_records": records}), "application/json; charset=utf-8"),
    }


def _reordered(split: dict[str, Any]) -> dict[str, Any]:
    order = list(reversed(range(len(split["columns"]))))
    return {"columns": [split["columns"][i] for i in order], "data": [[row[i] for i in order] for row in split["data"]]}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
