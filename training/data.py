"""Training data: the bundled demo frame, and frames read from or written to a path or URI.

URIs go through pyarrow's filesystems (`pyarrow.fs.FileSystem.from_uri`), so local paths, `file://`
and `s3://` (endpoint and credentials from the usual AWS variables) all work. The format follows the
suffix: `.csv` / `.csv.gz` is CSV, `.parquet` / `.pq` or a folder is Parquet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pyarrow import fs as pa_fs
from sklearn.datasets import load_breast_cancer

from training.errors import TrainingInputError

DEMO_MODEL_NAME = "demo"
DEMO_TARGET = "target"
SIZE_BANDS = ("small", "medium", "large")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def load_demo_frame() -> pd.DataFrame:
    """scikit-learn's breast_cancer: 30 snake_case float64 features, `size_band` (str) and `target` (int)."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda name: name.replace(" ", "_"))
    bands = pd.qcut(frame["mean_area"], q=len(SIZE_BANDS), labels=list(SIZE_BANDS))
    frame.insert(len(frame.columns) - 1, "size_band", bands.astype("str"))
    frame[DEMO_TARGET] = frame[DEMO_TARGET].astype("int64")
    return frame


def require_target(frame: pd.DataFrame, target: str) -> None:
    """Raise TrainingInputError naming the columns when `target` is not one of them."""
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise TrainingInputError(f"target {target!r} is not a column (columns: {columns})")


def _filesystem(uri: str) -> tuple[pa_fs.FileSystem, str]:
    if "://" not in uri:
        return pa_fs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    try:
        filesystem, path = pa_fs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TrainingInputError(f"cannot open {uri}: {exc}") from exc
    return filesystem, str(path)


def _format(path: str, info: pa_fs.FileInfo) -> str:
    name = path.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES) or info.type == pa_fs.FileType.Directory:
        return "parquet"
    raise TrainingInputError(f"cannot tell the format of {path}: use a .parquet, .pq, .csv or .csv.gz name")


def read_frame(uri: str) -> pd.DataFrame:
    """Read a Parquet file or folder, or a CSV file, from a local path or any pyarrow filesystem URI."""
    filesystem, path = _filesystem(uri)
    try:
        info = filesystem.get_file_info(path)
    except OSError as exc:
        raise TrainingInputError(f"cannot open {uri}: {exc}") from exc
    if info.type == pa_fs.FileType.NotFound:
        raise TrainingInputError(f"no such file: {uri}")
    try:
        if _format(path, info) == "csv":
            with filesystem.open_input_stream(path, compression="detect") as stream:
                table = pa_csv.read_csv(stream)
        else:
            table = pq.read_table(path, filesystem=filesystem)
    except (pa.ArrowException, OSError) as exc:
        raise TrainingInputError(f"cannot read {uri}: {exc}") from exc
    frame = table.to_pandas()
    if frame.empty:
        raise TrainingInputError(f"{uri} has no rows")
    return frame


def write_frame(frame: pd.DataFrame, uri: str) -> str:
    """Write `frame` as CSV or Parquet (by suffix) to a local path or URI; returns the path written."""
    filesystem, path = _filesystem(uri)
    name = path.lower()
    if not name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        raise TrainingInputError(f"cannot tell the format of {uri}: use a .parquet, .pq, .csv or .csv.gz name")
    if isinstance(filesystem, pa_fs.LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if name.endswith(CSV_SUFFIXES):
        with filesystem.open_output_stream(path, compression="detect") as stream:
            pa_csv.write_csv(table, stream)
    else:
        pq.write_table(table, path, filesystem=filesystem)
    return path
