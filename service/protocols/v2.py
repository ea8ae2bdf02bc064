"""The Open Inference Protocol (KServe V2) over REST: request tensors in, output tensors out.

Two request shapes are accepted: one input per signature column (`name` = column, shape `[n]` or
`[n, 1]`; how MLServer's pandas codec and tritonclient send tables), or a single `[n, k]` input holding
every column in signature order. Translation only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from service.errors import bad_request
from service.table import Column, RawTable, describe

DATATYPES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}
SIGNATURE_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "string": "BYTES",
    "boolean": "BOOL",
}


def parse(body: bytes) -> tuple[RawTable, str | None, str]:
    """The table, the request id the client gave (if any), and the prediction method."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict):
        raise bad_request(f"the body must be a JSON object with 'inputs', got {describe(document)}")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request("'inputs' must be a non-empty list of tensors")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise bad_request(f"'parameters' must be an object, got {describe(parameters)}")
    method = parameters.get("predict_method", "predict")
    if method not in ("predict", "predict_proba"):
        raise bad_request(f"parameters.predict_method must be 'predict' or 'predict_proba', got {describe(method)}")
    request_id = document.get("id")
    tensors = [_tensor(i, tensor) for i, tensor in enumerate(inputs)]
    names = [name for name, _, _ in tensors]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise bad_request(f"input(s) {duplicates} given more than once")
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][1][1] > 1:
        _, shape, data = tensors[0]
        rows = [data[i * shape[1] : (i + 1) * shape[1]] for i in range(shape[0])]
        return RawTable(rows=rows, n_rows=shape[0]), _id(request_id), str(method)
    columns: dict[str, Column] = {}
    for name, shape, data in tensors:
        if len(shape) == 2 and shape[1] != 1:
            raise bad_request(f"input '{name}': shape {shape} holds several columns; send one input per column")
        columns[name] = data
    return RawTable.from_columns(columns), _id(request_id), str(method)


def _tensor(index: int, tensor: Any) -> tuple[str, list[int], list[Any]]:
    if not isinstance(tensor, dict):
        raise bad_request(f"inputs[{index}] must be an object with name, shape, datatype and data")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request(f"inputs[{index}].name must be a non-empty string")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2 or not all(_count(d) for d in shape):
        raise bad_request(f"input '{name}': shape must be [rows] or [rows, columns] of non-negative integers")
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise bad_request(f"input '{name}': datatype {describe(datatype)} is not one of {sorted(DATATYPES)}")
    data = _flatten(tensor.get("data"), name)
    expected = math.prod(shape)
    if len(data) != expected:
        raise bad_request(f"input '{name}': shape {shape} needs {expected} values, got {len(data)}")
    if datatype == "BYTES":
        data = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in data]
    return name, [int(d) for d in shape], data


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise bad_request(f"input '{name}': data must be a list, got {describe(data)}")
    if not any(isinstance(v, list) for v in data):
        return data
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:  # iterative, so hostile nesting cannot exhaust the Python stack
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            if len(stack) > 8:
                raise bad_request(f"input '{name}': data is nested too deeply")
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


_END = object()


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def response(model_name: str, version: str, request_id: str | None, predictions: Any, classes: Any) -> bytes:
    array = np.asarray(predictions)
    if array.dtype.kind == "b":
        datatype = "BOOL"
    elif array.dtype.kind in "iu":
        datatype = "INT64"
    elif array.dtype.kind == "f":
        datatype = "FP64"
    else:
        datatype = "BYTES"
        array = array.astype(str)
    output: dict[str, Any] = {
        "name": "predict_proba" if classes is not None else "predict",
        "shape": list(array.shape),
        "datatype": datatype,
        "data": array.reshape(-1).tolist(),
    }
    if classes is not None:
        output["parameters"] = {"classes": orjson.dumps(classes).decode()}
    body: dict[str, Any] = {"model_name": model_name, "model_version": version, "outputs": [output]}
    if request_id is not None:
        body["id"] = request_id
    return orjson.dumps(body)


def metadata(model: Any) -> dict[str, Any]:
    """`GET /v2/models/{name}`: inputs from the signature."""
    inputs = []
    if model.schema is not None:
        inputs = [
            {"name": c.name, "datatype": SIGNATURE_DATATYPES[c.type], "shape": [-1]} for c in model.schema.columns
        ]
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": f"mlflow-{model.flavor}",
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
    }
