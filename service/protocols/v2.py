"""The Open Inference Protocol (KServe V2) over REST: request tensors in, output tensors out.

Tensors arrive as JSON `data` or, with the binary tensor data extension, as raw bytes after the JSON
header (`service/protocols/v2_tensors.py`). Models with a column signature get a table: one input per
signature column (`name` = column, shape `[n]` or `[n, 1]`; how MLServer's pandas codec and tritonclient
send tables), or a single `[n, k]` input holding every column in signature order. Other models get the
tensors themselves (`service/tensor_input.py`). Translation only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from service.errors import bad_request
from service.protocols.v2_tensors import DATATYPES, datatype_of, from_binary, from_json, to_binary, to_json_data
from service.table import Column, RawTable, describe

EXTENSIONS = ["binary_tensor_data"]
"""What `GET /v2` lists: the Triton protocol extensions this server speaks."""
MAX_RANK = 8


@dataclass
class Tensor:
    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | np.ndarray
    """A flat list from JSON, or an array of `shape` from binary data."""

    def array(self) -> np.ndarray:
        return (
            self.data
            if isinstance(self.data, np.ndarray)
            else from_json(self.name, self.shape, self.datatype, self.data)
        )

    def flat(self) -> Column:
        """The values in row-major order as Python values, which the signature check reads."""
        return self.data.reshape(-1).tolist() if isinstance(self.data, np.ndarray) else self.data


@dataclass
class InferRequest:
    tensors: list[Tensor]
    request_id: str | None
    method: str
    outputs: dict[str, bool] | None
    """Requested outputs by name, each with whether it is wanted as binary data; None: every output."""
    binary_output: bool
    """`parameters.binary_data_output`: the default for outputs not listed with their own `binary_data`."""


def parse(body: bytes, header_length: str | None = None) -> InferRequest:
    """The request; `header_length` is the `Inference-Header-Content-Length` header, if sent."""
    header, binary = _split(body, header_length)
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict):
        raise bad_request(f"the body must be a JSON object with 'inputs', got {describe(document)}")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request("'inputs' must be a non-empty list of tensors")
    parameters = _parameters(document.get("parameters"), "parameters")
    outputs = _outputs(document.get("outputs"))
    method = parameters.get("predict_method")
    if method is None:
        method = "predict_proba" if outputs is not None and set(outputs) == {"predict_proba"} else "predict"
    if method not in ("predict", "predict_proba"):
        raise bad_request(f"parameters.predict_method must be 'predict' or 'predict_proba', got {describe(method)}")
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise bad_request(f"parameters.binary_data_output must be true or false, got {describe(binary_output)}")
    tensors = _tensors(inputs, binary)
    names = [t.name for t in tensors]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise bad_request(f"input(s) {duplicates} given more than once")
    request_id = document.get("id")
    return InferRequest(tensors, request_id if isinstance(request_id, str) else None, method, outputs, binary_output)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, memoryview | None]:
    if header_length is None:
        return body, None
    if not header_length.strip().isdigit():
        raise bad_request(f"Inference-Header-Content-Length must be a byte count, got {describe(header_length)}")
    length = int(header_length)
    if length > len(body):
        raise bad_request(f"Inference-Header-Content-Length {length} is past the end of the body ({len(body)} bytes)")
    return body[:length], memoryview(body)[length:]


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"'{where}' must be an object, got {describe(value)}")
    return value


def _outputs(value: Any) -> dict[str, bool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"'outputs' must be a list of requested outputs, got {describe(value)}")
    wanted: dict[str, bool] = {}
    for i, output in enumerate(value):
        name = output.get("name") if isinstance(output, dict) else None
        if not isinstance(name, str) or not name:
            raise bad_request(f"outputs[{i}] must be an object with a non-empty 'name'")
        binary = _parameters(output.get("parameters"), f"outputs[{i}].parameters").get("binary_data", False)
        if not isinstance(binary, bool):
            raise bad_request(f"output '{name}': parameters.binary_data must be true or false")
        wanted[name] = binary
    return wanted


def _tensors(inputs: list[Any], binary: memoryview | None) -> list[Tensor]:
    tensors = []
    offset = 0
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise bad_request(f"inputs[{index}] must be an object with name, shape, datatype and data")
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request(f"inputs[{index}].name must be a non-empty string")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not 1 <= len(shape) <= MAX_RANK or not all(_count(d) for d in shape):
            raise bad_request(f"input '{name}': shape must be a list of 1 to {MAX_RANK} non-negative integers")
        datatype = tensor.get("datatype")
        if datatype not in DATATYPES:
            raise bad_request(f"input '{name}': datatype {describe(datatype)} is not one of {sorted(DATATYPES)}")
        size = _parameters(tensor.get("parameters"), f"input '{name}' parameters").get("binary_data_size")
        if size is None:
            tensors.append(_json_tensor(name, shape, datatype, tensor.get("data")))
            continue
        if not _count(size):
            raise bad_request(f"input '{name}': parameters.binary_data_size must be a byte count, got {describe(size)}")
        if binary is None:
            raise bad_request(f"input '{name}' has binary_data_size but no Inference-Header-Content-Length was sent")
        if "data" in tensor:
            raise bad_request(f"input '{name}' has both 'data' and binary_data_size: send one")
        if offset + size > len(binary):
            raise bad_request(
                f"input '{name}': binary_data_size {size} runs past the end of the body "
                f"({len(binary) - offset} bytes left)"
            )
        tensors.append(
            Tensor(name, shape, datatype, from_binary(name, shape, datatype, binary[offset : offset + size]))
        )
        offset += size
    if binary is not None and offset != len(binary):
        raise bad_request(f"the body has {len(binary) - offset} bytes after the binary data of the last input")
    return tensors


def _json_tensor(name: str, shape: list[int], datatype: str, data: Any) -> Tensor:
    values = _flatten(data, name)
    expected = math.prod(shape)
    if len(values) != expected:
        raise bad_request(f"input '{name}': shape {shape} needs {expected} values, got {len(values)}")
    if datatype == "BYTES":
        values = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
    return Tensor(name, shape, datatype, values)


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
            if len(stack) > MAX_RANK:
                raise bad_request(f"input '{name}': data is nested too deeply")
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


_END = object()


def to_table(request: InferRequest) -> RawTable:
    """The table a column-signature model checks: one input per column, or one `[n, k]` matrix."""
    tensors = request.tensors
    for tensor in tensors:
        if len(tensor.shape) > 2:
            raise bad_request(f"input '{tensor.name}': shape {tensor.shape} is not a column ([n] or [n, 1])")
    if len(tensors) == 1 and len(tensors[0].shape) == 2 and tensors[0].shape[1] > 1:
        matrix = tensors[0]
        values, (n, k) = matrix.flat(), matrix.shape
        rows = [list(values[i * k : (i + 1) * k]) for i in range(n)]  # type: ignore[arg-type]
        return RawTable(rows=rows, n_rows=n)
    columns: dict[str, Column] = {}
    for tensor in tensors:
        if len(tensor.shape) == 2 and tensor.shape[1] != 1:
            raise bad_request(
                f"input '{tensor.name}': shape {tensor.shape} holds several columns; send one input per column"
            )
        columns[tensor.name] = tensor.flat()
    return RawTable.from_columns(columns)


def named_outputs(predictions: Any, method: str) -> list[tuple[str, np.ndarray]]:
    """The model's answer as named tensors: a dict or DataFrame gives one per key or column."""
    if isinstance(predictions, dict):
        return [(str(k), np.asarray(v)) for k, v in predictions.items()]
    if isinstance(predictions, pd.DataFrame):
        return [(str(c), predictions[c].to_numpy()) for c in predictions.columns]
    if isinstance(predictions, pd.Series):
        return [(method, predictions.to_numpy())]
    return [(method, np.asarray(predictions))]


def response(
    model_name: str,
    version: str,
    request: InferRequest,
    outputs: list[tuple[str, np.ndarray]],
    classes: Any = None,
) -> tuple[bytes, int | None]:
    """The response body and, when any output is binary, the JSON header's length."""
    produced = {name for name, _ in outputs}
    if request.outputs is not None:
        unknown = sorted(set(request.outputs) - produced)
        if unknown:
            raise bad_request(f"output(s) {unknown} are not produced by this model (it gives {sorted(produced)})")
    tensors: list[dict[str, Any]] = []
    raw: list[bytes] = []
    for name, array in outputs:
        if request.outputs is not None and name not in request.outputs:
            continue
        binary = request.outputs[name] if request.outputs is not None else request.binary_output
        datatype = datatype_of(array)
        tensor: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": datatype}
        parameters: dict[str, Any] = {}
        if name == "predict_proba" and classes is not None:
            parameters["classes"] = orjson.dumps(classes).decode()
        if binary:
            raw.append(to_binary(array, datatype))
            parameters["binary_data_size"] = len(raw[-1])
        else:
            tensor["data"] = to_json_data(array, datatype)
        if parameters:
            tensor["parameters"] = parameters
        tensors.append(tensor)
    body: dict[str, Any] = {"model_name": model_name, "model_version": version, "outputs": tensors}
    if request.request_id is not None:
        body["id"] = request.request_id
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not raw:
        return header, None
    return header + b"".join(raw), len(header)
