"""One registered model version, loaded and ready to predict: the native estimator where possible."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from service.errors import ClientError, bad_request
from service.schema import NUMERIC, SCALAR_TYPES, Columns, ColumnSpec, InputSchema, frame
from service.table import RawTable

if TYPE_CHECKING:
    from service.compiled import Compilation, Compiler

log = logging.getLogger(__name__)

# A model that takes arrays (see `_takes_array`) was fitted on a DataFrame: scikit-learn would say so on
# every call. The columns were already checked by name against the signature.
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)

PREDICT_METHODS = ("predict", "predict_proba")


@dataclass
class ModelVersion:
    """What the registry says about a version; `alias` is the alias it was resolved through."""

    name: str
    version: str
    run_id: str | None
    source: str
    alias: str | None = None


@dataclass
class LoadedModel:
    """A version in memory. `schema` is None when the model has no column-based signature."""

    meta: ModelVersion
    flavor: str
    schema: InputSchema | None
    signature: dict[str, Any] | None
    predict_frame: Callable[[pd.DataFrame, dict[str, Any] | None], Any]
    proba_frame: Callable[[pd.DataFrame], np.ndarray] | None
    classes: list[Any] | None
    input_example: pd.DataFrame | None
    local_dir: Path
    loaded_at: float = field(default_factory=time.time)
    array_input: bool = False
    """Hand the model one 2-D array in signature order instead of a DataFrame (decided at load)."""
    estimator: Any = None
    """The native scikit-learn estimator, for compilation (service/compiled.py); None once compiled."""
    compilation: Compilation | None = None

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def runtime(self) -> str:
        """What executes the model: `sklearn` (the native estimator), `onnxruntime` or `pyfunc` (MLflow's wrapper)."""
        if self.flavor == "onnx" or (self.compilation is not None and self.compilation.served):
            return "onnxruntime"
        return "sklearn" if self.flavor == "sklearn" else "pyfunc"

    def check(self, table: RawTable) -> tuple[Columns, list[str]]:
        """Validated, typed columns for this version's signature (or the columns as sent, without one)."""
        if self.schema is not None:
            return self.schema.check(table)
        if table.rows is not None:
            raise bad_request("this model has no column signature: send named columns")
        if table.n_rows == 0:
            raise bad_request("the request has no rows")
        return {name: np.asarray(values) for name, values in table.columns.items()}, []

    def predict(self, columns: Columns, method: str = "predict", params: dict[str, Any] | None = None) -> Any:
        """Predictions for the rows; a failure inside the model is a ClientError (it came from input)."""
        data: Any = np.column_stack(list(columns.values())) if self.array_input else frame(columns)
        try:
            if method == "predict_proba":
                if self.proba_frame is None:
                    raise bad_request(f"model {self.name} version {self.version} has no class probabilities")
                return self.proba_frame(data)
            return self.predict_frame(data, params)
        except ClientError:
            raise
        except Exception as exc:
            raise bad_request(f"the model could not score this input: {type(exc).__name__}: {exc}") from exc

    def warm_up(self) -> None:
        """Run the input example through the whole check-and-predict path, so the first request is fast."""
        if self.input_example is None:
            return
        example = self.input_example
        table = RawTable.from_columns({str(c): example[c].tolist() for c in example.columns})
        columns, _ = self.check(table)
        self.predict(columns)
        if self.proba_frame is not None:
            self.predict(columns, "predict_proba")

    def discard(self) -> None:
        shutil.rmtree(self.local_dir, ignore_errors=True)


def load_version(meta: ModelVersion, cache_root: Path, compiler: Compiler | None = None) -> LoadedModel:
    """Download a version's artifacts and load it; sklearn models natively, everything else via pyfunc."""
    import mlflow
    from mlflow.models import Model

    cache_root.mkdir(parents=True, exist_ok=True)
    local_dir = Path(tempfile.mkdtemp(prefix=f"v{meta.version}-", dir=cache_root))
    try:
        path = mlflow.artifacts.download_artifacts(f"models:/{meta.name}/{meta.version}", dst_path=str(local_dir))
        model_meta = Model.load(path)
        schema = _input_schema(model_meta)
        example = _input_example(model_meta, path)
        if "sklearn" in model_meta.flavors:
            loaded = _native_sklearn(meta, path, model_meta, schema, local_dir, example)
        elif "onnx" in model_meta.flavors:
            from service.onnx_runtime import load_onnx_flavor

            loaded = load_onnx_flavor(meta, path, model_meta, schema, local_dir)
        else:
            loaded = _pyfunc(meta, path, model_meta, schema, local_dir)
        loaded.input_example = example
        return compiler.compile(loaded) if compiler is not None else loaded
    except BaseException:
        shutil.rmtree(local_dir, ignore_errors=True)
        raise


def _native_sklearn(
    meta: ModelVersion,
    path: str,
    model_meta: Any,
    schema: InputSchema | None,
    local_dir: Path,
    example: pd.DataFrame | None = None,
) -> LoadedModel:
    import mlflow.sklearn
    from sklearn.utils import get_tags

    estimator = mlflow.sklearn.load_model(path)
    allow_nan = bool(getattr(get_tags(estimator).input_tags, "allow_nan", False))
    if schema is not None and allow_nan:
        schema = InputSchema(schema.columns, allow_missing=True)
    proba = getattr(estimator, "predict_proba", None)
    classes = getattr(estimator, "classes_", None)
    return LoadedModel(
        meta=meta,
        flavor="sklearn",
        schema=schema,
        signature=_signature_dict(model_meta),
        predict_frame=lambda data, _params: estimator.predict(data),
        proba_frame=proba if callable(proba) else None,
        classes=classes.tolist() if classes is not None else None,
        input_example=None,
        local_dir=local_dir,
        array_input=_takes_array(estimator, schema, example),
        estimator=estimator,
    )


def _takes_array(estimator: Any, schema: InputSchema | None, example: pd.DataFrame | None) -> bool:
    """Whether the estimator may be handed a 2-D array in signature order instead of a DataFrame.

    scikit-learn validates a DataFrame column by column: about 1.5 ms a call for a 30-column pipeline
    here, ten times the array's cost. Only when every input is numeric, the estimator was fitted on
    exactly the signature's columns in that order, and the input example predicts the same both ways
    (a ColumnTransformer selecting columns by name refuses arrays, and stays on DataFrames).
    """
    from sklearn.pipeline import Pipeline

    if schema is None or example is None or not all(c.type in NUMERIC for c in schema.columns):
        return False
    first = estimator.steps[0][1] if isinstance(estimator, Pipeline) else estimator
    fitted_names = getattr(first, "feature_names_in_", None)
    if fitted_names is not None and [str(n) for n in fitted_names] != schema.names:
        return False
    try:
        table = RawTable.from_columns({str(c): example[c].tolist() for c in example.columns})
        columns, _ = schema.check(table)
        by_array = np.asarray(estimator.predict(np.column_stack(list(columns.values()))))
        by_frame = np.asarray(estimator.predict(frame(columns)))
    except Exception:  # the model wants a DataFrame: keep giving it one
        return False
    return by_array.shape == by_frame.shape and bool(np.array_equal(by_array, by_frame))


def _pyfunc(meta: ModelVersion, path: str, model_meta: Any, schema: InputSchema | None, local_dir: Path) -> LoadedModel:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(path)
    return LoadedModel(
        meta=meta,
        flavor=next((f for f in model_meta.flavors if f != "python_function"), "python_function"),
        schema=schema,
        signature=_signature_dict(model_meta),
        predict_frame=lambda data, params: model.predict(data, params=params) if params else model.predict(data),
        proba_frame=None,
        classes=None,
        input_example=None,
        local_dir=local_dir,
    )


def _input_schema(model_meta: Any) -> InputSchema | None:
    """Our checker handles column signatures of scalar types; others are left to pyfunc's enforcement."""
    schema = model_meta.get_input_schema()
    if schema is None or not schema.has_input_names() or schema.is_tensor_spec():
        return None
    specs = []
    for col in schema.inputs:
        kind = getattr(getattr(col, "type", None), "name", None)
        if kind not in SCALAR_TYPES:
            return None
        specs.append(ColumnSpec(col.name, kind, bool(getattr(col, "required", True))))
    return InputSchema(tuple(specs))


def _input_example(model_meta: Any, path: str) -> pd.DataFrame | None:
    try:
        example = model_meta.load_input_example(path)
    except Exception:  # an unreadable example only costs the warm-up
        log.warning("input example of the model could not be read; warm-up skipped", exc_info=True)
        return None
    return example if isinstance(example, pd.DataFrame) else None


def _signature_dict(model_meta: Any) -> dict[str, Any] | None:
    return model_meta.signature.to_dict() if model_meta.signature is not None else None
