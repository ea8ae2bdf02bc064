"""`GET /v2/models/{name}`: the served version's inputs, from its column or tensor signature."""

from __future__ import annotations

from typing import Any

import numpy as np

from service.loaded_model import LoadedModel
from service.protocols.v2_tensors import datatype_of
from service.tensor_input import tensor_specs

SIGNATURE_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "string": "BYTES",
    "boolean": "BOOL",
}


def metadata(model: LoadedModel) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = []
    if model.schema is not None:
        inputs = [
            {"name": c.name, "datatype": SIGNATURE_DATATYPES[c.type], "shape": [-1]} for c in model.schema.columns
        ]
    elif (specs := tensor_specs(model)) is not None:
        inputs = [
            {
                "name": spec["name"] or "input-0",
                "datatype": datatype_of(np.empty(0, dtype=np.dtype(spec["dtype"]))),
                "shape": list(spec.get("shape") or []),
            }
            for spec in specs
        ]
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": f"mlflow-{model.flavor}",
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
    }
