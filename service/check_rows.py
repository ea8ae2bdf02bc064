"""The rows a compiled form is proven on (service/compiled.py): the version's reference rows and input example,
or, for an affine map without reference rows, probe rows around its input example.

A version logged by plain MLflow has no reference rows (`reference/reference.parquet` is this project's
training pipeline's): an ONNX form cannot be proven on the few rows of an input example, so it serves
natively. The affine map can: `fold` (service/linear_form.py) only accepts per-column scalings before a
linear model, so the native estimator's scores are an affine function of the row, as the folded map's
are, and two affine maps on `width` columns that agree on `width + 1` affinely independent rows agree
everywhere. The rows: the example's first row `x0`, and `x0 + h_i e_i` for each column `i` (`h_i` =
max(1, |x0_i|)). On the example and these rows, checked by the signature and fed as a request's rows are,
the native scores (`decision_function` of a classifier, `predict` of a regressor) and the folded ones must
agree within the compile tolerance, relative to each score (at least 1), and the labels and probabilities
as on reference rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from service.columns import Columns, stacked
from service.linear_form import Affine
from service.loaded_model import LoadedModel
from service.schema import NUMERIC
from service.table import RawTable

CHECK_MAX_ROWS = 10_000
"""Reference rows checked at most (the first ones in file order), so the check stays well under a second."""
MISSING_PROBE_ROWS = 20
REFERENCE_ARTIFACT = "reference/reference.parquet"


class NotChecked(Exception):
    """There are no rows to prove agreement on (no reference, or rows the signature refuses)."""


def check_columns(loaded: LoadedModel, parts: list[pd.DataFrame | None]) -> Columns:
    """The rows of `parts` (the reference rows and the input example), validated by the version's signature
    as a request is."""
    assert loaded.schema is not None
    parts = [frame for frame in parts if frame is not None]
    if loaded.schema.allow_missing:
        parts.extend(missing_value_probes(parts[0], [c.name for c in loaded.schema.columns if c.type in NUMERIC]))
    rows = pd.concat(parts, ignore_index=True)
    table = RawTable.from_columns({str(c): rows[c].tolist() for c in rows.columns if c in loaded.schema.names})
    try:
        columns, _ = loaded.schema.check(table)
    except Exception as exc:
        raise NotChecked(f"the reference rows do not pass the signature: {short(exc)}") from exc
    return columns


def missing_value_probes(reference: pd.DataFrame, numeric: list[str]) -> list[pd.DataFrame]:
    """Reference rows with one column missing at a time, for estimators that take NaN.

    A tree sends a missing value down the branch it learned (or the larger one); the compiled graph must
    do the same, and reference rows seldom have gaps in every column to show it.
    """
    head = reference.head(MISSING_PROBE_ROWS)
    return [head.assign(**{name: np.nan}) for name in numeric if name in head.columns]


def reference_rows(loaded: LoadedModel) -> pd.DataFrame:
    import mlflow.artifacts
    import pyarrow.parquet as pq

    run_id = loaded.meta.run_id
    if not run_id:
        raise NotChecked("the version has no training run, so no reference rows to check against")
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=REFERENCE_ARTIFACT, dst_path=str(loaded.local_dir / "reference")
        )
        frame = pq.read_table(path).slice(0, CHECK_MAX_ROWS).to_pandas()
    except Exception as exc:
        raise NotChecked(f"no reference rows in run {run_id} ({REFERENCE_ARTIFACT}): {short(exc)}") from exc
    if frame.empty:
        raise NotChecked(f"the reference of run {run_id} has no rows")
    return frame


def probe_rows(example: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The example's first row, and that row moved along each column in turn: `width + 1` rows."""
    first = example[names].iloc[0].to_numpy(dtype=np.float64)
    steps = np.maximum(1.0, np.abs(first))
    rows = np.vstack([first, first + np.diag(steps)])
    return pd.DataFrame(rows, columns=names)


def scores_differ(native: LoadedModel, affine: Affine, columns: Columns) -> float:
    """The largest difference between a native score of the checked rows and the folded map's, relative to
    that score (at least 1); NaN when they cannot be compared (then the proof fails)."""
    estimator = native.estimator
    score = estimator.decision_function if affine.kind != "regression" else estimator.predict
    expected = np.asarray(score(native.model_input(columns)), dtype=np.float64)
    folded = affine.scores(stacked(columns))
    expected = expected.reshape(len(folded), -1)
    if expected.shape != folded.shape:
        return float("nan")
    return float(np.max(np.abs(expected - folded) / np.maximum(1.0, np.abs(expected))))


def short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."
