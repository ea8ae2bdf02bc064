"""V2 tensors on the wire: datatypes, JSON data, and the binary tensor data extension.

The binary extension (Triton's `extension_binary_data`, spoken by tritonclient by default): the body is
a JSON header of `Inference-Header-Content-Length` bytes followed by the raw data of every tensor whose
`parameters.binary_data_size` is set, in the order the tensors are listed. Numbers are little-endian in
row-major order; a BYTES element is a 4-byte little-endian length followed by that many bytes.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from service.errors import bad_request

NUMPY_TYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
DATATYPES = set(NUMPY_TYPES)
_LENGTH = struct.Struct("<I")


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of an output array: numbers keep their width; text, bytes and objects are BYTES."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind in "iu" and size in (1, 2, 4, 8):
        return f"{'UINT' if kind == 'u' else 'INT'}{size * 8}"
    if kind == "f" and size in (2, 4, 8):
        return f"FP{size * 8}"
    return "BYTES"


def from_binary(name: str, shape: list[int], datatype: str, raw: memoryview) -> np.ndarray:
    """The tensor held by `raw`, which must be exactly `shape` × `datatype`; 400 naming the input if not."""
    count = math.prod(shape)
    if datatype == "BYTES":
        return np.array(_split_bytes(name, count, raw), dtype=object).reshape(shape)
    dtype = NUMPY_TYPES[datatype]
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise bad_request(
            f"input '{name}': binary_data_size is {len(raw)} bytes, but shape {shape} of {datatype} needs {expected}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _split_bytes(name: str, count: int, raw: memoryview) -> list[str | bytes]:
    elements: list[str | bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise bad_request(f"input '{name}': BYTES data ends inside an element's 4-byte length prefix")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise bad_request(f"input '{name}': BYTES element {len(elements)} runs past binary_data_size")
        elements.append(_text(bytes(raw[offset : offset + length])))
        offset += length
    if len(elements) != count:
        raise bad_request(f"input '{name}': shape needs {count} BYTES elements, binary data holds {len(elements)}")
    return elements


def _text(value: bytes) -> str | bytes:
    """BYTES elements reach the model as text when they are UTF-8, as the same tensor sent as JSON would."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def to_binary(array: np.ndarray, datatype: str) -> bytes:
    """The raw form of an output tensor (row-major, little-endian, BYTES length-prefixed)."""
    if datatype != "BYTES":
        return np.ascontiguousarray(array, dtype=NUMPY_TYPES[datatype]).tobytes()
    parts = []
    for item in array.reshape(-1):
        data = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def to_json_data(array: np.ndarray, datatype: str) -> list[Any]:
    """The flat `data` list of an output tensor in JSON; BYTES as text."""
    if datatype != "BYTES":
        return list(array.reshape(-1).tolist())
    return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in array.reshape(-1)]


def from_json(name: str, shape: list[int], datatype: str, data: list[Any]) -> np.ndarray:
    """A flat JSON `data` list as a typed array of `shape`; 400 naming the input if a value does not fit."""
    if datatype == "BYTES":
        values: list[Any] = [_text(v) if isinstance(v, bytes) else v for v in data]
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    try:
        return np.asarray(data, dtype=NUMPY_TYPES[datatype]).reshape(shape)
    except (TypeError, ValueError, OverflowError) as exc:
        raise bad_request(f"input '{name}': data does not fit datatype {datatype}: {exc}") from None
