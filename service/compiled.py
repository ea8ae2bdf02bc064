"""A loaded scikit-learn version compiled, served only where it is proven equal at load.

Compiled to its affine map where it is a linear model behind per-column scalings (`service/linear_form.py`,
runtime `linear`), else to ONNX Runtime (`onnxruntime`).

Runs in the background load (`load_version`), never on the request path. The proof: the version's
reference rows (`reference/reference.parquet` of its training run, at most `CHECK_MAX_ROWS`) and its input
example go through the same check-and-predict path as a request, natively and compiled: labels must be
identical and every output and probability within `TOLERANCE` (relative to the largest native output,
at least 1). A version without reference rows (logged by plain MLflow) has its affine map proven on probe
rows around its input example instead (service/check_rows.py); ONNX forms are not tried for it. Otherwise
the native model serves, and why is logged (once per load) and counted in
`model_compile_total{model,result}`. The compiled form is part of the `LoadedModel`, so a rollback to a
cached version serves it again without converting.

`TOLERANCE` = 1e-5: float32 carries 24 bits (6e-8 relative per operation); a sum of a few hundred tree
leaves or a dot product of a few dozen terms stays within ~1e-6 of float64 (7.7e-7 measured for a 200-tree
forest's probabilities), while a real difference (another threshold semantics, a column out of place, a
lost transform) shows up at 1e-3 and above, and labels must match exactly in any case.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from service.check_rows import NotChecked, check_columns, probe_rows, reference_rows, scores_differ, short
from service.columns import Columns
from service.linear_form import Affine, fold, linear_model
from service.loaded_model import LoadedModel
from service.metrics import Metrics
from service.onnx_convert import Form, array_layout, convert, forms
from service.onnx_runtime import OnnxSession

log = logging.getLogger(__name__)

TOLERANCE = 1e-5

LINEAR = Form("array", np.float64)
"""The linear form's input: the rows as one float64 array, as scikit-learn computes."""

Result = Literal["compiled", "disagreed", "unconverted", "unchecked"]
CompileMode = Literal["auto", "off"]


@dataclass(frozen=True)
class Compilation:
    """What compiling a version found at load: the agreement measured, or why the native model serves."""

    result: Result
    reason: str | None = None
    rows_checked: int = 0
    max_abs_diff: float | None = None
    labels_equal: bool | None = None
    input_dtype: str | None = None
    layout: str | None = None
    seconds: float = 0.0
    runtime: str = "onnxruntime"
    """What executes the compiled form: `onnxruntime`, or `linear` (the affine map, service/linear_form.py)."""

    @property
    def served(self) -> bool:
        return self.result == "compiled"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Compiler:
    """Compiles what loads natively as scikit-learn, when `COMPILE=auto`; counts every outcome."""

    def __init__(self, mode: CompileMode, metrics: Metrics | None = None) -> None:
        self.mode = mode
        self.metrics = metrics

    def compile(self, loaded: LoadedModel) -> LoadedModel:
        """The compiled form of `loaded` when proven equal, else `loaded` itself (with the reason)."""
        if self.mode == "off" or loaded.estimator is None:
            return loaded
        started = time.monotonic()
        try:
            compiled, found = _compile(loaded)
        except Exception as exc:  # anything unexpected: the native model serves, as for any other refusal
            compiled, found = None, Compilation("unconverted", f"{type(exc).__name__}: {exc}")
        found = replace(found, seconds=round(time.monotonic() - started, 3))
        if self.metrics is not None:
            self.metrics.compiles.labels(loaded.name, found.result).inc()
        if compiled is None:
            log.warning(
                "%s version %s serves natively (scikit-learn), not compiled: %s (%s)",
                loaded.name,
                loaded.version,
                found.reason,
                found.result,
            )
            return replace(loaded, compilation=found)
        log.info(
            "%s version %s compiled (%s, %s, %s): %d rows agree, max abs diff %.3g, %.2fs",
            loaded.name,
            loaded.version,
            found.runtime,
            found.layout,
            found.input_dtype,
            found.rows_checked,
            found.max_abs_diff or 0.0,
            found.seconds,
        )
        return replace(compiled, compilation=found)


def _compile(loaded: LoadedModel) -> tuple[LoadedModel | None, Compilation]:
    if loaded.schema is None:
        return None, Compilation("unchecked", "the model has no column signature to convert and check against")
    affine = (
        fold(loaded.estimator, len(loaded.schema.columns)) if array_layout(loaded.estimator, loaded.schema) else None
    )
    try:
        columns = check_columns(loaded, [reference_rows(loaded), loaded.input_example])
    except NotChecked as exc:
        if affine is None or loaded.input_example is None:
            return None, Compilation("unchecked", str(exc))
        return _affine_on_probes(loaded, affine, str(exc))
    reasons: list[str] = []
    disagreed: Compilation | None = None
    refuses = _refusals(loaded, columns)
    if affine is not None:
        compiled = linear_model(loaded, affine, *refuses)
        found = replace(_agreement(loaded, compiled, columns, LINEAR), runtime="linear")
        if found.served:
            return compiled, found
        disagreed = found
    for form in forms(loaded.estimator, loaded.schema):
        try:
            session = OnnxSession(convert(loaded.estimator, loaded.schema, form), *refuses)
        except Exception as exc:  # skl2onnx or ONNX Runtime refuses this form: try the next
            reasons.append(f"{form.layout}/{np.dtype(form.dtype).name}: {type(exc).__name__}: {short(exc)}")
            continue
        compiled = _compiled_model(loaded, session, form)
        found = _agreement(loaded, compiled, columns, form)
        if found.served:
            return compiled, found
        disagreed = disagreed or found
    if disagreed is not None:
        return None, disagreed
    return None, Compilation("unconverted", "; ".join(reasons) or "no form to convert to")


def _refusals(native: LoadedModel, columns: Columns) -> tuple[bool, bool]:
    """Whether the native model refuses an infinite value, and NaN: one reference row, a float column changed.

    scikit-learn's validation differs by estimator (a forest refuses infinity, HistGradientBoosting takes
    it; most refuse NaN): the compiled form refuses exactly what the native one does.
    """
    floats = [name for name, values in columns.items() if np.asarray(values).dtype.kind == "f"]
    if not floats:
        return False, False
    found = []
    for value in (np.inf, np.nan):
        row = {name: np.array(values[:1], copy=True) for name, values in columns.items()}
        row[floats[0]][0] = value
        try:
            native.predict(row)
        except Exception:
            found.append(True)
        else:
            found.append(False)
    return found[0], found[1]


def _compiled_model(loaded: LoadedModel, session: OnnxSession, form: Form) -> LoadedModel:
    """`loaded` with its model calls on `session`; the native estimator is dropped (its memory with it)."""
    classes = getattr(loaded.estimator, "classes_", None)
    label_dtype = np.asarray(classes).dtype if classes is not None else None
    by_probability = classes is not None and np.ndim(classes) == 1 and len(session.output_names) > 1
    class_array = np.asarray(classes)

    def predict(data: Any, _params: dict[str, Any] | None) -> np.ndarray:
        outputs = session.run(data)
        if by_probability:
            return _label(np.asarray(outputs[1]), class_array)
        output = np.asarray(outputs[0])
        if label_dtype is not None:
            return output.reshape(-1).astype(label_dtype, copy=False)
        output = output.astype(np.float64, copy=False)
        return output.reshape(-1) if output.ndim == 2 and output.shape[1] == 1 else output

    def proba(data: Any) -> np.ndarray:
        return np.asarray(session.run(data)[1], dtype=np.float64)

    return replace(
        loaded,
        predict_frame=predict,
        proba_frame=proba if loaded.proba_frame is not None and label_dtype is not None else None,
        array_input=form.layout == "array",
        estimator=None,
    )


def _label(probabilities: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The most probable class, where probabilities within `TOLERANCE` of the top count as tied.

    scikit-learn takes the first class of an exact tie (`argmax`); a forest with an even number of trees
    has such ties (0.5 / 0.5), which float32 sums in another order turn into 0.49999994 / 0.50000006.
    """
    if len(probabilities) == 1:  # a lone request: its four numpy calls cost ~25 µs in place, more than ORT's call
        row = probabilities[0].tolist()
        if not any(map(math.isnan, row)):  # NaN: numpy's rules below
            bar = max(row) - TOLERANCE
            first = next(i for i, p in enumerate(row) if p >= bar)
            return classes[first : first + 1].copy()
    top = probabilities.max(axis=1, keepdims=True)
    return np.asarray(classes[np.argmax(probabilities >= top - TOLERANCE, axis=1)])


def _agreement(native: LoadedModel, compiled: LoadedModel, columns: Columns, form: Form) -> Compilation:
    """Native and compiled outputs on the same validated rows: labels exact, numbers within tolerance."""
    rows = len(next(iter(columns.values())))
    base = Compilation("disagreed", rows_checked=rows, input_dtype=np.dtype(form.dtype).name, layout=form.layout)
    expected, got = np.asarray(native.predict(columns)), np.asarray(compiled.predict(columns))
    if expected.shape != got.shape:
        return replace(base, reason=f"output shapes differ: {expected.shape} vs {got.shape}")
    labels_equal: bool | None = None
    if native.classes is not None:
        differing = int(np.sum(expected != got))
        if differing:
            return replace(base, reason=f"labels differ on {differing} of {rows} rows", labels_equal=False)
        labels_equal = True
        if native.proba_frame is None or compiled.proba_frame is None:
            return replace(base, result="compiled", labels_equal=True, max_abs_diff=0.0)
        expected = np.asarray(native.predict(columns, "predict_proba"), dtype=np.float64)
        got = np.asarray(compiled.predict(columns, "predict_proba"), dtype=np.float64)
        if expected.shape != got.shape:
            return replace(base, reason=f"probability shapes differ: {expected.shape} vs {got.shape}")
    expected = expected.astype(np.float64)
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    limit = TOLERANCE * max(1.0, float(np.max(np.abs(expected)))) if expected.size else TOLERANCE
    base = replace(base, max_abs_diff=diff, labels_equal=labels_equal)
    if not diff <= limit:  # also refuses NaN
        return replace(base, reason=f"outputs differ by up to {diff:.3g} (tolerance {limit:.3g})")
    return replace(base, result="compiled")


def _affine_on_probes(loaded: LoadedModel, affine: Affine, why: str) -> tuple[LoadedModel | None, Compilation]:
    """No reference rows: the affine map proven on the input example and `width + 1` affinely independent rows
    around it (service/check_rows.py). ONNX forms are not tried: a few rows prove nothing of a tree."""
    assert loaded.schema is not None
    assert loaded.input_example is not None
    try:
        probes = probe_rows(loaded.input_example, loaded.schema.names)
        columns = check_columns(loaded, [loaded.input_example, probes])
        differ = scores_differ(loaded, affine, columns)
    except Exception as exc:  # an example that cannot be probed: unchecked, as before
        return None, Compilation("unchecked", f"{why}; the input example cannot be probed: {short(exc)}")
    compiled = linear_model(loaded, affine, *_refusals(loaded, columns))
    found = replace(_agreement(loaded, compiled, columns, LINEAR), runtime="linear")
    if not differ <= TOLERANCE:  # also refuses NaN
        return None, replace(found, result="disagreed", reason=f"scores differ by {differ:.3g} on the probe rows")
    if not found.served:
        return None, found
    return compiled, replace(found, reason=f"{why}: proven on the input example and {len(probes)} probe rows")
