"""OpenAPI descriptions of the raw request bodies (read by hand for speed, so FastAPI cannot infer them)."""

from __future__ import annotations

from typing import Any

_CELL: dict[str, Any] = {"type": ["number", "string", "boolean", "null"]}
_ROW = {"type": "array", "items": _CELL}
_RECORD = {"type": "object", "additionalProperties": _CELL}
_COLUMNS = {"type": "object", "additionalProperties": {"type": "array", "items": _CELL}}
_PARAMS = {
    "type": "object",
    "properties": {"predict_method": {"type": "string", "enum": ["predict", "predict_proba"]}},
    "additionalProperties": True,
}


def _one_of(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: schema, "params": _PARAMS},
        "additionalProperties": False,
    }


INVOCATIONS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _one_of(
                            "dataframe_split",
                            {
                                "type": "object",
                                "required": ["data"],
                                "properties": {
                                    "columns": {"type": "array", "items": {"type": "string"}},
                                    "data": {"type": "array", "items": _ROW},
                                    "index": {"type": "array"},
                                },
                            },
                        ),
                        _one_of("dataframe_records", {"type": "array", "items": _RECORD}),
                        _one_of("instances", {"anyOf": [{"type": "array", "items": _RECORD}, _COLUMNS]}),
                        _one_of("inputs", {"anyOf": [{"type": "array", "items": _ROW}, _COLUMNS]}),
                    ]
                }
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "responses": {
        "200": {"description": '`{"predictions": [...]}`'},
        "400": {"description": '`{"error_code", "message"}` naming the column and the problem'},
        "413": {"description": "more than MAX_ROWS rows or MAX_REQUEST_BYTES bytes"},
        "415": {"description": "unsupported Content-Type"},
        "503": {"description": "no model loaded yet"},
    },
}

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string"},
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}

V2_INFER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "parameters": {"type": "object"},
                        "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
                        "outputs": {"type": "array"},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {"description": "V2 inference response"},
        "400": {"description": '`{"error": ...}`'},
        "404": {"description": "unknown model name or version"},
    },
}


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    """Declared by hand: a `DirectRoute`'s endpoint reads the path itself, so FastAPI cannot see it."""
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


NAME_PARAMETER = _path_parameter("name", "The registered model's name (one of the models served)")
VERSION_PARAMETER = _path_parameter(
    "version", "A version of the model that is loaded (the serving one, or one kept in memory)"
)
