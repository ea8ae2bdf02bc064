"""The capture files' columns and schema version: the contract between the predictor and its readers.

Version 1 (files without the metadata key): the inputs, `_request_id`, `_timestamp`, `_model_version`,
`_prediction`. Version 2 adds who answered and how (`_server_request_id`, `_model_name`, `_run_id`,
`_runtime`) and the class probabilities (`_probabilities` with `_classes`, when `predict_proba` was asked).
Version 3 adds the shadow's answer beside production's in the same row (service/shadow.py):
`_shadow_version` (the version that shadowed the row; null when the row was not shadowed),
`_shadow_prediction` (same type as `_prediction`), `_shadow_probabilities` (in the order of `_classes`;
null unless both versions gave probabilities for the same classes) and `_shadow_error` (null when the
shadow scored the row; else "dropped" when its queue was full, or the exception type it raised).
A reader of any version finds the version in the Parquet key-value metadata `aliasserve.capture_schema`.
"""

from __future__ import annotations

SCHEMA_VERSION = 3
SCHEMA_KEY = b"aliasserve.capture_schema"

REQUEST_ID = "_request_id"
"""`X-Request-ID` as answered: the client's when it sent a usable one, else the server's id."""
SERVER_REQUEST_ID = "_server_request_id"
"""`X-Server-Request-ID`: unique to the request (a UUIDv7, so its first bits are the time it arrived)."""
TIMESTAMP = "_timestamp"
MODEL_NAME = "_model_name"
MODEL_VERSION = "_model_version"
RUN_ID = "_run_id"
RUNTIME = "_runtime"
PREDICTION = "_prediction"
PROBABILITIES = "_probabilities"
CLASSES = "_classes"
SHADOW_VERSION = "_shadow_version"
SHADOW_PREDICTION = "_shadow_prediction"
SHADOW_PROBABILITIES = "_shadow_probabilities"
SHADOW_ERROR = "_shadow_error"

V1_COLUMNS = (REQUEST_ID, TIMESTAMP, MODEL_VERSION, PREDICTION)
V2_COLUMNS = (
    REQUEST_ID,
    SERVER_REQUEST_ID,
    TIMESTAMP,
    MODEL_NAME,
    MODEL_VERSION,
    RUN_ID,
    RUNTIME,
    PREDICTION,
    PROBABILITIES,
    CLASSES,
)
V3_COLUMNS = (*V2_COLUMNS, SHADOW_VERSION, SHADOW_PREDICTION, SHADOW_PROBABILITIES, SHADOW_ERROR)


def schema_version(metadata: dict[bytes, bytes] | None) -> int:
    """The schema version of a file from its Parquet key-value metadata (1 when the key is absent)."""
    value = (metadata or {}).get(SCHEMA_KEY)
    return int(value) if value is not None and value.isdigit() else 1


def is_input(column: str) -> bool:
    """Whether a captured column is one of the model's inputs rather than one of the contract's own."""
    return column not in V3_COLUMNS
