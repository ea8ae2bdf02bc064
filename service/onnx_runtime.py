"""ONNX Runtime sessions as the service runs them, and MLflow's `onnx` flavor served on one.

Thread discipline: a session runs on the caller's thread only (`intra_op_num_threads=1`, sequential
execution, no spinning). Model calls already run one at a time on the model thread (service/model_thread.py)
while the event loop parses, validates and answers on the main thread; an intra-op pool would spin on the
core the loop needs, and at the batch sizes batching produces (1-64 rows) a second thread buys nothing:
README "Performance" has the measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from service.loaded_model import LoadedModel, ModelVersion
from service.schema import InputSchema

INTRA_OP_THREADS = 1
"""ONNX Runtime threads per model call: the caller's own (see the module docstring)."""

_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(string)": np.object_,
    "tensor(bool)": np.bool_,
}


def session_options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = INTRA_OP_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
    return options


@dataclass(frozen=True)
class OnnxInput:
    name: str
    dtype: Any
    """numpy dtype a feed is cast to (`object` for strings)."""


class OnnxSession:
    """One ONNX model in ONNX Runtime on the CPU, fed from a 2-D array or from named DataFrame columns.

    `refuse_infinite` / `refuse_nan` refuse what the native model's input validation refuses, in
    scikit-learn's words (infinite values, also values beyond float32 where the model computes in float32 as
    scikit-learn's trees do; NaN): ONNX Runtime would compute with them, and a compiled model must not
    answer where the native one refuses (service/compiled.py probes which it refuses).
    """

    def __init__(self, model: bytes | str, refuse_infinite: bool = False, refuse_nan: bool = False) -> None:
        import onnxruntime as ort

        self.refuse_infinite = refuse_infinite
        self.refuse_nan = refuse_nan

        self.session = ort.InferenceSession(model, session_options(), providers=["CPUExecutionProvider"])
        self.inputs = [OnnxInput(i.name, _NUMPY_TYPES.get(i.type, np.float32)) for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._run = _bound_run(self.session)

    def run(self, data: Any) -> list[Any]:
        """All outputs for `data`: a 2-D array for a one-input model, else a DataFrame with the input names."""
        return list(self._run(self.output_names, self.feeds(data), None))

    def feeds(self, data: Any) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            (only,) = self.inputs
            if isinstance(data, pd.DataFrame):
                data = data.to_numpy()
            feeds = {only.name: np.asarray(data, dtype=only.dtype)}
        elif not isinstance(data, pd.DataFrame):
            raise TypeError(f"this model takes {len(self.inputs)} named inputs: send named columns")
        else:
            feeds = {i.name: data[i.name].to_numpy(dtype=i.dtype).reshape(-1, 1) for i in self.inputs}
        if self.refuse_infinite or self.refuse_nan:
            for value in feeds.values():
                refuse_non_finite(value, self.refuse_infinite, self.refuse_nan)
        return feeds


def refuse_non_finite(value: np.ndarray, infinite: bool, nan: bool) -> None:
    """Raise scikit-learn's own `ValueError` for an infinite value or NaN, where the native model refuses it."""
    if value.dtype.kind != "f" or np.isfinite(value).all():
        return
    if infinite and np.isinf(value).any():
        raise ValueError(f"Input X contains infinity or a value too large for {value.dtype!r}.")
    if nan and np.isnan(value).any():
        raise ValueError("Input X contains NaN.")


def _bound_run(session: Any) -> Any:
    """The C++ session's `run`, past `InferenceSession.run`'s per-call checks (graph capture off, every input
    fed, no foreign OrtValue, the output names listed again: ~5-7 µs of a ~17 µs one-row call). `feeds` builds
    exactly the model's inputs as numpy arrays on the CPU provider, so none of them can fail here. ONNX
    Runtime's own `run` when a version lacks the attribute."""
    inner = getattr(session, "_sess", None)
    return getattr(inner, "run", None) or session.run


def load_onnx_flavor(
    meta: ModelVersion, path: str, model_meta: Any, schema: InputSchema | None, local_dir: Path
) -> LoadedModel:
    """MLflow's `onnx` flavor on our own session (thread discipline above) instead of pyfunc's.

    Answers as MLflow's pyfunc wrapper does for a DataFrame: one column per output, float64 feeds cast to
    float32 where the model takes float. An output with several values per row (class probabilities),
    which MLflow's wrapper cannot put in a column, gives one list per row.
    """
    conf = model_meta.flavors["onnx"]
    session = OnnxSession(str(Path(path) / conf["data"]))

    def predict(data: Any, _params: dict[str, Any] | None) -> pd.DataFrame:
        outputs = session.run(data)
        rows = len(data)
        return pd.DataFrame(
            {name: _column(value, rows) for name, value in zip(session.output_names, outputs, strict=True)}
        )

    return LoadedModel(
        meta=meta,
        flavor="onnx",
        schema=schema,
        signature=model_meta.signature.to_dict() if model_meta.signature is not None else None,
        predict_frame=predict,
        proba_frame=None,
        classes=None,
        input_example=None,
        local_dir=local_dir,
    )


def _column(value: Any, rows: int) -> Any:
    array = np.asarray(value) if not isinstance(value, list) else value
    if isinstance(array, np.ndarray) and array.size == rows:
        return array.reshape(-1)
    return list(array)
