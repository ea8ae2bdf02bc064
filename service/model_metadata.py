"""What a version's MLmodel file says, as the loader uses it: the fast path's column checker from the
signature, the input examples for the warm-up, the signature as `/model` shows it."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from service.schema import SCALAR_TYPES, ColumnSpec, InputSchema, shared

log = logging.getLogger(__name__)


def predicts_with(model_meta: Any, method: str) -> bool:
    """Whether MLflow's pyfunc serves this method (`pyfunc_predict_fn` may name another, e.g. predict_proba)."""
    return bool(model_meta.flavors.get("python_function", {}).get("predict_fn", "predict") == method)


def input_schema(model_meta: Any) -> InputSchema | None:
    """The fast path's checker: column signatures of scalar types whose names are all strings.

    Anything else (no signature, tensors, integer column names from `pd.DataFrame(X)`, MLflow's binary,
    datetime, Array/Object/Map types, a params schema to enforce) is left to MLflow's input handling.
    """
    schema = model_meta.get_input_schema()
    if model_meta.get_params_schema() is not None:
        return None
    if schema is None or not schema.has_input_names() or schema.is_tensor_spec():
        return None
    specs = []
    for col in schema.inputs:
        kind = getattr(getattr(col, "type", None), "name", None)
        if kind not in SCALAR_TYPES or not isinstance(col.name, str):
            return None
        specs.append(ColumnSpec(col.name, kind, bool(getattr(col, "required", True))))
    return shared(InputSchema(tuple(specs)))


def input_example(model_meta: Any, path: str) -> pd.DataFrame | None:
    try:
        example = model_meta.load_input_example(path)
    except Exception:  # an unreadable example only costs the warm-up
        log.warning("input example of the model could not be read; warm-up skipped", exc_info=True)
        return None
    return example if isinstance(example, pd.DataFrame) else None


def serving_example(model_meta: Any, path: str) -> str | None:
    try:
        example = model_meta.get_serving_input(path)
    except Exception:  # an unreadable example only costs the warm-up
        log.warning("serving input example of the model could not be read; warm-up skipped", exc_info=True)
        return None
    return example if isinstance(example, str) else None


def signature_dict(model_meta: Any) -> dict[str, Any] | None:
    return model_meta.signature.to_dict() if model_meta.signature is not None else None
