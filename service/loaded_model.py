"""One registered model version, loaded and ready to predict: the native estimator where possible.

Every version is loaded through `mlflow.pyfunc.load_model`, as `mlflow models serve` loads it. A native
scikit-learn model whose signature is columns of scalar types with string names, served with `predict`,
also gets the fast path (`fast`): the project's own column checker, batching and numpy, which give the
same answers for that shape. Everything else goes through MLflow's own input handling
(`service/pyfunc_input.py`).
"""

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

from service import pyfunc_input
from service.columns import Columns, frame, stacked
from service.errors import ClientError, ModelError, bad_request
from service.logs import redact
from service.model_metadata import input_example, input_schema, predicts_with, serving_example, signature_dict
from service.pyfunc_input import PyfuncRequest
from service.schema import NUMERIC, InputSchema, shared
from service.table import RawTable

if TYPE_CHECKING:
    from service.compiled import Compilation, Compiler

log = logging.getLogger(__name__)

# A model that takes arrays (see `_takes_array`) was fitted on a DataFrame: scikit-learn would say so on
# every call. The columns were already checked by name against the signature.
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)

# scikit-learn's `check_array` words (also the compiled form's, service/onnx_runtime.py): a value the estimator
# cannot take (infinity, beyond float32 for trees, NaN where it takes none) is a 400, as MLflow answers it.
_VALIDATION_REFUSALS = ("Input X contains", "Input contains")

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
    """The fast path's column checker; None sends every request through MLflow's input handling."""
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
    pyfunc: Any = None
    """MLflow's `PyFuncModel` for this version (what `mlflow models serve` calls)."""
    model_meta: Any = None
    """MLflow's `Model` (the MLmodel file): input schema, params schema, type hints."""
    serving_example: str | None = None
    """The serving input example MLflow saved with the model (a request body), for the warm-up."""
    warm_up_error: str | None = None
    """Why the input example could not be scored at load; the version is served all the same."""
    row_form: Any = None
    """A binary linear classifier's `RowForm`: lone rows share calls across models (service/shared_calls.py)."""
    _logged_errors: set[str] = field(default_factory=set, repr=False)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def fast(self) -> bool:
        """Requests take the fast path (the project's checker, batching, the native estimator or its compiled
        form, or MLflow's onnx flavor on this service's own ONNX Runtime session)."""
        return self.schema is not None and self.flavor in ("sklearn", "onnx")

    @property
    def has_signature(self) -> bool:
        return self.signature is not None and bool(self.signature.get("inputs"))

    @property
    def runtime(self) -> str:
        """What executes the model: `sklearn` (the native estimator), a compiled form's runtime (`onnxruntime`,
        `linear`) or `pyfunc` (MLflow's wrapper)."""
        if self.flavor == "onnx":
            return "onnxruntime"
        if self.compilation is not None and self.compilation.served:
            return self.compilation.runtime
        return "sklearn" if self.flavor == "sklearn" else "pyfunc"

    def check(self, table: RawTable) -> tuple[Columns, list[str]]:
        """Validated, typed columns for this version's signature (the fast path only)."""
        if self.schema is None:
            raise bad_request(f"model {self.name} version {self.version} takes MLflow's input handling")
        return self.schema.check(table)

    def model_input(self, columns: Columns) -> Any:
        """Checked rows as this version's model takes them: one array, or a DataFrame (`array_input`)."""
        return stacked(columns) if self.array_input else frame(columns)

    def predict(self, columns: Columns, method: str = "predict", params: dict[str, Any] | None = None) -> Any:
        """Predictions for checked rows (the fast path); a failure inside the model is a ModelError."""
        data = self.model_input(columns)
        try:
            if method == "predict_proba":
                if self.proba_frame is None:
                    raise bad_request(f"model {self.name} version {self.version} has no class probabilities")
                return self.proba_frame(data)
            return self.predict_frame(data, params)
        except ClientError:
            raise
        except ValueError as exc:
            if str(exc).startswith(_VALIDATION_REFUSALS):  # the estimator's own input validation: the input's fault
                raise bad_request(f"model {self.name} version {self.version} refused the input: {exc}") from exc
            raise self._model_error(exc) from exc
        except Exception as exc:
            raise self._model_error(exc) from exc

    def predict_pyfunc(self, request: PyfuncRequest) -> Any:
        """Predictions as `mlflow models serve` computes them (MLflow enforces the signature and params)."""
        try:
            return pyfunc_input.predict(self.pyfunc, request, self.name, self.version, self.has_signature)
        except ModelError as error:
            self._log_model_error(error, error.__cause__)
            raise

    def warm_up(self) -> None:
        """Score the input example through the whole request path, so the first request is fast.

        A model whose example cannot be scored is still served, as MLflow serves it: the reason is kept in
        `warm_up_error` (shown by `GET /model`) and logged once.
        """
        try:
            self._warm_up()
        except Exception as exc:
            self.warm_up_error = redact(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}")[:1000]
            log.warning(
                "model %s version %s: the input example could not be scored (%s); serving it all the same",
                self.name,
                self.version,
                self.warm_up_error,
            )

    def _warm_up(self) -> None:
        if self.fast and self.input_example is not None:
            example = self.input_example
            table = RawTable.from_columns({str(c): example[c].tolist() for c in example.columns})
            columns, _ = self.check(table)
            self.predict(columns)
            if self.proba_frame is not None:
                self.predict(columns, "predict_proba")
        elif self.serving_example is not None:
            request = pyfunc_input.parse(self.serving_example.encode(), "application/json", self.model_meta)
            self.predict_pyfunc(request)

    def _model_error(self, exc: Exception) -> ModelError:
        error = pyfunc_input.model_error(exc, self.name, self.version, has_signature=True)
        self._log_model_error(error, exc)
        return error

    def _log_model_error(self, error: ModelError, cause: BaseException | None) -> None:
        """Logged with its traceback the first time this version raises this type; counted every time."""
        kind = type(cause).__name__
        if kind in self._logged_errors or len(self._logged_errors) > 32:
            return
        self._logged_errors.add(kind)
        log.error("%s (logged once per exception type)", error.message, exc_info=cause)

    def discard(self) -> None:
        shutil.rmtree(self.local_dir, ignore_errors=True)


def load_version(meta: ModelVersion, cache_root: Path, compiler: Compiler | None = None) -> LoadedModel:
    """Download a version's artifacts and load it as MLflow does; scikit-learn natively (and compiled, where
    `compiler` proves the compiled form equal), MLflow's onnx flavor on ONNX Runtime directly."""
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import Model

    cache_root.mkdir(parents=True, exist_ok=True)
    local_dir = Path(tempfile.mkdtemp(prefix=f"v{meta.version}-", dir=cache_root))
    try:
        path = mlflow.artifacts.download_artifacts(f"models:/{meta.name}/{meta.version}", dst_path=str(local_dir))
        model_meta = Model.load(path)
        pyfunc = mlflow.pyfunc.load_model(path)
        schema = input_schema(model_meta)
        example = input_example(model_meta, path)
        if "sklearn" in model_meta.flavors and predicts_with(model_meta, "predict"):
            loaded = _native_sklearn(meta, pyfunc, model_meta, schema, local_dir, example)
        elif "onnx" in model_meta.flavors:
            from service.onnx_runtime import load_onnx_flavor

            loaded = load_onnx_flavor(meta, path, model_meta, schema, local_dir)
        else:
            loaded = _pyfunc(meta, pyfunc, model_meta, local_dir)
        loaded.input_example = example
        loaded.pyfunc = pyfunc
        loaded.model_meta = model_meta
        loaded.serving_example = serving_example(model_meta, path)
        return compiler.compile(loaded) if compiler is not None else loaded
    except BaseException:
        shutil.rmtree(local_dir, ignore_errors=True)
        raise


def _native_sklearn(
    meta: ModelVersion,
    pyfunc: Any,
    model_meta: Any,
    schema: InputSchema | None,
    local_dir: Path,
    example: pd.DataFrame | None = None,
) -> LoadedModel:
    from sklearn.utils import get_tags

    estimator = pyfunc.get_raw_model()  # the estimator MLflow's pyfunc wraps: loaded once
    allow_nan = bool(getattr(get_tags(estimator).input_tags, "allow_nan", False))
    if schema is not None and allow_nan:
        schema = shared(InputSchema(schema.columns, allow_missing=True))
    proba = getattr(estimator, "predict_proba", None)
    classes = getattr(estimator, "classes_", None)
    return LoadedModel(
        meta=meta,
        flavor="sklearn",
        schema=schema,
        signature=signature_dict(model_meta),
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


def _pyfunc(meta: ModelVersion, pyfunc: Any, model_meta: Any, local_dir: Path) -> LoadedModel:
    """Any other flavor: every request goes through MLflow's input handling (`schema` None)."""
    return LoadedModel(
        meta=meta,
        flavor=next((f for f in model_meta.flavors if f != "python_function"), "python_function"),
        schema=None,
        signature=signature_dict(model_meta),
        predict_frame=lambda data, params: pyfunc.predict(data, params=params) if params else pyfunc.predict(data),
        proba_frame=None,
        classes=None,
        input_example=None,
        local_dir=local_dir,
    )
