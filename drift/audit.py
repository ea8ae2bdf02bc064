"""Find captured rows by request id or time range, reading only the files and row groups that can match.

Three things keep a lookup in a day (or a month) of capture fast:
- partition pruning: a time range lists only the `date=/hour=` folders it overlaps, and so does a server
  request id (a UUIDv7 carries the millisecond it was made; its rows are captured within the hour after);
- Parquet statistics: pyarrow's dataset scanner skips every row group whose min/max of `_timestamp` or
  `_server_request_id` (time-ordered, so each file covers a narrow range) excludes the filter;
- projection: the first pass reads only the id and time columns of all candidate files (in parallel);
  only files with a match are read whole.
A client's own id carries no time: without a range, every file is scanned (its id columns only). A
lookup by a UUIDv7 that finds nothing near its time scans everything too, since a client may have chosen it.
Files of every schema version are read: columns a version lacks are null.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow import fs as pa_fs

from drift.capture_reader import Window, open_root
from service import capture_schema as cols
from service.middleware import server_id_millis

_MODEL = re.compile(r"/model=([^/]+)/")
_IDS = pa.schema(
    [
        (cols.REQUEST_ID, pa.string()),
        (cols.SERVER_REQUEST_ID, pa.string()),
        (cols.TIMESTAMP, pa.timestamp("ms", tz="UTC")),
    ]
)
_AFTER_ID = timedelta(hours=1)
"""How long after its server id was made a request's rows may be captured (bounded by the request timeout)."""


@dataclass(frozen=True)
class AuditQuery:
    """A request id (the client's or the server's), a time window, or both; optionally one model."""

    request_id: str | None = None
    window: Window | None = None
    model: str | None = None


@dataclass(frozen=True)
class Match:
    """The matching rows of one capture file, with the file's model (from its path) and schema version."""

    path: str
    model: str
    schema_version: int
    table: pa.Table


def find(uri: str, query: AuditQuery) -> Iterator[Match]:
    """The captured rows matching `query` under the capture root `uri`, file by file in time order.

    Each match's `path` is a URI again for object storage (`s3://bucket/...`), a local path otherwise."""
    opened = open_root(uri)
    if opened is None:  # nothing captured yet: no row can match
        return
    filesystem, root = opened
    window = query.window
    narrowed = window is None and query.request_id is not None and server_id_millis(query.request_id) is not None
    if narrowed and query.request_id is not None:
        made = datetime.fromtimestamp((server_id_millis(query.request_id) or 0) / 1000, UTC)
        window = Window(made - timedelta(minutes=1), made + _AFTER_ID)
    scheme = uri.split("://", 1)[0] + "://" if "://" in uri and not uri.startswith("file://") else ""
    found = False
    for match in _search(filesystem, root, query, window):
        found = True
        yield replace(match, path=scheme + match.path)
    if narrowed and not found:  # a client may send a UUIDv7 of its own: look everywhere
        for match in _search(filesystem, root, query, None):
            yield replace(match, path=scheme + match.path)


def _search(filesystem: pa_fs.FileSystem, root: str, query: AuditQuery, window: Window | None) -> Iterator[Match]:
    paths = candidate_files(filesystem, root, query.model, window)
    if not paths:
        return
    expression = _filter(query, window)
    first = ds.dataset(paths, schema=_IDS, format="parquet", filesystem=filesystem)
    hits = first.to_table(columns=["__filename"], filter=expression).column("__filename").unique().to_pylist()
    for path in sorted(hits, key=paths.index):
        yield _read_matches(filesystem, str(path), expression)


def candidate_files(filesystem: pa_fs.FileSystem, root: str, model: str | None, window: Window | None) -> list[str]:
    """Published capture files of `model` (or every model) in the hour partitions of `window` (or all)."""
    if model is not None:
        models = [f"{root}/model={model}"]
    else:
        listing = filesystem.get_file_info(pa_fs.FileSelector(root, allow_not_found=True))
        models = [i.path for i in listing if i.type == pa_fs.FileType.Directory and i.base_name.startswith("model=")]
    folders = models
    if window is not None:
        hours = window.hours()
        folders = [f"{m}/date={h:%Y-%m-%d}/hour={h:%H}" for m in models for h in hours]
    paths: list[str] = []
    for folder in folders:
        infos = filesystem.get_file_info(pa_fs.FileSelector(folder, allow_not_found=True, recursive=window is None))
        paths.extend(
            info.path
            for info in infos
            if info.type == pa_fs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((".", "_"))
        )
    return sorted(paths)


def _filter(query: AuditQuery, window: Window | None) -> ds.Expression:
    conditions: list[ds.Expression] = []
    if query.request_id is not None:
        conditions.append(
            (ds.field(cols.REQUEST_ID) == query.request_id) | (ds.field(cols.SERVER_REQUEST_ID) == query.request_id)
        )
    if window is not None:
        kind = _IDS.field(cols.TIMESTAMP).type
        conditions.append(ds.field(cols.TIMESTAMP) >= pa.scalar(window.start, kind))
        conditions.append(ds.field(cols.TIMESTAMP) < pa.scalar(window.end, kind))
    expression = conditions[0]
    for condition in conditions[1:]:
        expression = expression & condition
    return expression


def _read_matches(filesystem: pa_fs.FileSystem, path: str, expression: ds.Expression) -> Match:
    """Every column of the matching rows of one file; the file's own schema, with the id columns added."""
    dataset = ds.dataset(path, format="parquet", filesystem=filesystem)
    schema = dataset.schema
    for field in _IDS:
        if field.name not in schema.names:
            schema = schema.append(field)
    table = ds.dataset(path, schema=schema, format="parquet", filesystem=filesystem).to_table(filter=expression)
    model = _MODEL.search(path)
    return Match(path, model.group(1) if model else "", cols.schema_version(dataset.schema.metadata), table)
