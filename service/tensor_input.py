"""Raw tensors for models without a column signature (tensor-spec signatures, no signature): V2's other path.

A model trained on numpy arrays has a TensorSpec signature: it is handed one array (one spec) or a dict
of arrays by name (several), with shapes and dtypes enforced as MLflow enforces them (`-1` matches any
size; a dtype that differs is cast only where numpy calls the cast safe). A model without a signature gets
the single tensor as an array, or several 1-D tensors as a DataFrame of those columns. The call runs in a
thread, outside the batcher: batching concatenates column tables, which tensors of any rank are not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from service.errors import ClientError, bad_request
from service.loaded_model import LoadedModel
from service.predictor import Prediction, Predictor

log = logging.getLogger(__name__)


def tensor_specs(model: LoadedModel) -> list[dict[str, Any]] | None:
    """The signature's tensor specs as `{"name"?, "dtype", "shape"}`; None when the inputs are not tensors."""
    inputs = (model.signature or {}).get("inputs")
    specs = json.loads(inputs) if isinstance(inputs, str) else inputs
    if not isinstance(specs, list) or not specs or any(s.get("type") != "tensor" for s in specs):
        return None
    return [{"name": s.get("name"), **s["tensor-spec"]} for s in specs]


def model_input(model: LoadedModel, tensors: dict[str, np.ndarray]) -> tuple[Any, int]:
    """What the model's predict is handed for these tensors, and the number of rows (first dimension)."""
    n_rows = next(iter(tensors.values())).shape[0]
    if n_rows == 0:
        raise bad_request("the request has no rows")
    specs = tensor_specs(model)
    if specs is None:
        if len(tensors) == 1:
            return next(iter(tensors.values())), n_rows
        return _frame(tensors), n_rows
    if len(specs) == 1 and not specs[0]["name"]:
        if len(tensors) != 1:
            raise bad_request(f"this model takes one tensor, got {len(tensors)}: {sorted(tensors)}")
        name, array = next(iter(tensors.items()))
        return _enforce(name, array, specs[0]), n_rows
    expected = [str(s["name"]) for s in specs]
    missing = [n for n in expected if n not in tensors]
    unknown = [n for n in tensors if n not in expected]
    if missing or unknown:
        raise bad_request(f"the model's inputs are {expected}: missing {missing}, not in the signature {unknown}")
    arrays = {str(s["name"]): _enforce(str(s["name"]), tensors[str(s["name"])], s) for s in specs}
    return (arrays if len(arrays) > 1 else next(iter(arrays.values()))), n_rows


def _enforce(name: str, array: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    shape = list(spec.get("shape") or [])
    if len(shape) != array.ndim or any(e not in (-1, a) for e, a in zip(shape, array.shape, strict=True)):
        raise bad_request(f"input '{name}': shape {list(array.shape)} does not match the signature's {shape}")
    expected = np.dtype(spec["dtype"])
    if array.dtype == expected or (expected.kind in "OUS" and array.dtype.kind in "OUS"):
        return array
    if not np.can_cast(array.dtype, expected, "safe"):
        raise bad_request(f"input '{name}': dtype {array.dtype} cannot be safely cast to the signature's {expected}")
    return array.astype(expected)


def _frame(tensors: dict[str, np.ndarray]) -> pd.DataFrame:
    for name, array in tensors.items():
        if array.ndim > 2 or (array.ndim == 2 and array.shape[1] != 1):
            raise bad_request(f"input '{name}': shape {list(array.shape)} is not a column; send one input per column")
    if len({len(array) for array in tensors.values()}) > 1:
        detail = ", ".join(f"'{name}' has {len(array)}" for name, array in tensors.items())
        raise bad_request(f"inputs have different numbers of rows: {detail}")
    return pd.DataFrame({name: array.reshape(-1) for name, array in tensors.items()})


async def predict_tensors(
    predictor: Predictor, model: LoadedModel, tensors: dict[str, np.ndarray], method: str
) -> Prediction:
    """Predictions for raw tensors; a model failure is a 500 naming the version (400 without a signature)."""
    data, n_rows = model_input(model, tensors)
    if n_rows > predictor.max_rows:
        raise ClientError(
            f"the request has {n_rows} rows; at most {predictor.max_rows} are accepted (MAX_ROWS)",
            413,
            "RESOURCE_LIMIT_EXCEEDED",
        )
    if method == "predict_proba" and model.proba_frame is None:
        raise bad_request(f"model {model.name} version {model.version} has no class probabilities")
    try:
        output = await asyncio.wait_for(
            asyncio.to_thread(_call, predictor, model, data, n_rows, method), predictor.timeout_s
        )
    except TimeoutError:
        raise ClientError(
            f"prediction took longer than {predictor.timeout_s:g}s (REQUEST_TIMEOUT_S)", 504, "DEADLINE_EXCEEDED"
        ) from None
    classes = model.classes if method == "predict_proba" else None
    return Prediction(model, output, classes, [])


def _call(predictor: Predictor, model: LoadedModel, data: Any, n_rows: int, method: str) -> Any:
    from mlflow.exceptions import MlflowException

    metrics = predictor.batcher.metrics
    started = time.perf_counter()
    try:
        if method == "predict_proba" and model.proba_frame is not None:
            output = model.proba_frame(data)
        else:
            output = model.predict_frame(data, None)
    except MlflowException as exc:  # pyfunc's own input enforcement refused the input
        raise bad_request(f"the model refused this input: {exc.message}") from None
    except Exception as exc:
        metrics.model_errors.labels(model.name, model.version).inc()
        log.warning("model %s version %s raised %s on tensor input", model.name, model.version, type(exc).__name__)
        if model.signature is None:  # nothing tells input faults from model faults: 400, as MLflow answers
            raise bad_request(f"the model could not score this input: {type(exc).__name__}: {exc}") from None
        raise ClientError(
            f"model {model.name} version {model.version} failed on input its signature accepts: {type(exc).__name__}",
            500,
            "INTERNAL_ERROR",
        ) from None
    metrics.calls.of(model.name, model.version).add(time.perf_counter() - started, n_rows)
    return output
