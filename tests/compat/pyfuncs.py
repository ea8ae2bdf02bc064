"""Python models for the compatibility zoo, logged with `mlflow.pyfunc.log_model(python_model=...)`.

Importable as `tests.compat.pyfuncs` from the repository root, where both servers run: cloudpickle stores
these classes by reference. Each answers something that shows what the model was handed. No type hints on
`predict` (except `Hinted`'s): MLflow would validate the input by them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


def _first_column(model_input: Any) -> list[Any]:
    if isinstance(model_input, pd.DataFrame):
        return list(model_input.iloc[:, 0])
    if isinstance(model_input, str):
        return [model_input]
    return list(np.asarray(model_input).ravel())


class DtypesEcho(PythonModel):
    """The column names and dtypes MLflow's enforcement produced (MLflow's own all-types test model)."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return [[str(name), str(dtype)] for name, dtype in model_input.dtypes.items()]


class Upper(PythonModel):
    """String input: each value upper-cased."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return [str(value).upper() for value in _first_column(model_input)]


class ValuesEcho(PythonModel):
    """Each row as text, column by column: shows optional columns, arrays, objects and maps as handed over."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return [{str(k): repr(v) for k, v in row.items()} for row in model_input.to_dict(orient="records")]


class Chat(PythonModel):
    """Chat format: answers the last message reversed, and the params it was given (defaults applied)."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        messages = model_input["messages"]
        if isinstance(model_input, pd.DataFrame):
            messages = messages.iloc[0]
        content = str(messages[-1]["content"])
        extra = sorted(k for k in model_input if k != "messages") if isinstance(model_input, dict) else []
        return {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content[::-1]}}],
            "params": params,
            "extra_keys": extra,
        }


class Completions(PythonModel):
    """Completions (`prompt`) and embeddings (`input`) formats, without a signature."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        if "prompt" in model_input:
            prompts = model_input["prompt"]
            prompts = prompts if isinstance(prompts, list) else [prompts]
            return {"choices": [{"index": i, "text": str(p)[::-1]} for i, p in enumerate(prompts)]}
        texts = model_input["input"]
        texts = texts if isinstance(texts, list) else [texts]
        return {"data": [{"index": i, "embedding": [float(len(str(t))), 1.0]} for i, t in enumerate(texts)]}


class Hinted(PythonModel):
    """A type-hinted model: MLflow validates `list[str]` itself and wants the `inputs` key."""

    def predict(self, model_input: list[str], params: dict[str, Any] | None = None) -> list[str]:
        return [text[::-1] for text in model_input]


class RaisesOnNegative(PythonModel):
    """Doubles `x`, and raises on a negative value: a model fault on input its signature accepts."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        values = np.asarray(model_input["x"] if isinstance(model_input, pd.DataFrame) else model_input, dtype=float)
        if (values < 0).any():
            raise ValueError("x must not be negative")
        return (values * 2).ravel().tolist()
