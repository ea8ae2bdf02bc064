"""Captured rows as the audit prints them: one JSON object per row, with MLflow URIs and links.

`links` always holds the `models:/NAME/VERSION` and `runs:/RUN_ID/` URIs (usable with any MLflow client);
with an http(s) tracking server also the UI addresses of the version and the run. Files of schema
version 1 did not record the run: it is looked up in the registry (model, version) when one is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from drift.audit import Match
from service import capture_schema as cols

RunOf = Callable[[str, str], str | None]
"""The run id of (model, version) from the registry, or None."""


def rows(match: Match, tracking_uri: str | None = None, run_of: RunOf | None = None) -> Iterator[dict[str, Any]]:
    """The audit objects of one file's matching rows, in file order."""
    names = match.table.column_names
    inputs = [name for name in names if cols.is_input(name)]
    for record in match.table.to_pylist():
        model = record.get(cols.MODEL_NAME) or match.model
        version = record.get(cols.MODEL_VERSION)
        run_id = record.get(cols.RUN_ID)
        if run_id is None and run_of is not None and model and version:
            run_id = run_of(model, str(version))
        stamp = record.get(cols.TIMESTAMP)
        yield {
            "request_id": record.get(cols.REQUEST_ID),
            "server_request_id": record.get(cols.SERVER_REQUEST_ID),
            "timestamp": stamp.isoformat().replace("+00:00", "Z") if isinstance(stamp, datetime) else None,
            "model": model,
            "version": version,
            "run_id": run_id,
            "runtime": record.get(cols.RUNTIME),
            "inputs": {name: _plain(record[name]) for name in inputs},
            "output": _output(record),
            "links": links(model, version, run_id, tracking_uri),
            "schema_version": match.schema_version,
            "file": match.path,
        }


def _output(record: dict[str, Any]) -> dict[str, Any]:
    output: dict[str, Any] = {"prediction": _plain(record.get(cols.PREDICTION))}
    probabilities, classes = record.get(cols.PROBABILITIES), record.get(cols.CLASSES)
    if probabilities is not None and classes is not None:
        output["probabilities"] = dict(zip(classes, map(_plain, probabilities), strict=True))
    return output


def links(model: str | None, version: str | None, run_id: str | None, tracking_uri: str | None) -> dict[str, str]:
    """MLflow URIs of the version and the run, and their UI addresses when the tracking URI is a server."""
    found: dict[str, str] = {}
    if model and version:
        found["model_version_uri"] = f"models:/{model}/{version}"
    if run_id:
        found["run_uri"] = f"runs:/{run_id}/"
    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        base = tracking_uri.rstrip("/")
        if model and version:
            found["model_version_url"] = f"{base}/#/models/{quote(model, safe='')}/versions/{version}"
        if run_id:
            found["run_url"] = f"{base}/#/runs/{run_id}"
    return found


def _plain(value: Any) -> Any:
    """A JSON-safe value: NaN and infinities as null, times as ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def registry_runs(tracking_uri: str) -> RunOf:
    """A cached (model, version) -> run id lookup against the registry at `tracking_uri`."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri)
    known: dict[tuple[str, str], str | None] = {}

    def run_of(model: str, version: str) -> str | None:
        if (model, version) not in known:
            try:
                known[(model, version)] = client.get_model_version(model, version).run_id or None
            except MlflowException:
                known[(model, version)] = None
        return known[(model, version)]

    return run_of
