"""MLflow's own scoring-server cases, as data: which zoo model, what body, and what MLflow answers.

Ported from MLflow's `tests/pyfunc/test_scoring_server.py` and `tests/models/test_cli.py` (the requests,
not the code), plus the shapes issue 13 found refused: integer column names, tensor signatures, every
data type, params schemas, the unwrapped chat/completions/embeddings formats, string inputs, optional
columns, MLflow 3's Array/Object/Map, type-hinted models. `status` is what `mlflow models serve` answers
(checked too, so a case that no longer exercises what it names is noticed). Some of MLflow's answers
are surprising (a tensor model refuses CSV; integer-named columns cannot be sent as records or CSV, their
names arriving as strings): they are MLflow's, and this service gives the same.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.utils.proto_json_utils import NumpyEncoder

from tests.compat.zoo import all_types_frame, iris_x

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Case:
    model: str
    body: bytes
    status: int
    content_type: str = JSON


def _json(document: object) -> bytes:
    return json.dumps(document, cls=NumpyEncoder).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


X = iris_x()[::15]  # 10 rows
FRAME = pd.DataFrame(X)  # integer column names
NAMED = pd.DataFrame(X, columns=["sepal_length", "sepal_width"])
TYPES = all_types_frame()
CHAT = [{"role": "user", "content": "hello there"}]
BAD_TYPES = {
    "columns": ["bad_integer", "bad_float", "bad_string", "bad_boolean"],
    "data": [[9007199254740991.0, 1.1, 1, 1.5], [2.0, 2.5, 2, 0], [3.0, 3.3, 3, "some arbitrary string"]],
}


CASES: dict[str, Case] = {
    # --- scikit-learn without a signature (MLflow's `sklearn_model` fixture) ---
    "nosig-malformed-json": Case("sk_no_signature", b"this is,,,, not valid json", 400),
    "nosig-json-number": Case("sk_no_signature", b"1", 400),
    "nosig-json-string": Case("sk_no_signature", b'"1"', 400),
    "nosig-json-list": Case("sk_no_signature", b"[1]", 400),
    "nosig-no-format-key": Case("sk_no_signature", _json({"not": "a serialized dataframe"}), 400),
    "nosig-two-format-keys": Case(
        "sk_no_signature", _json({"dataframe_records": [], "dataframe_split": {"data": []}}), 400
    ),
    "nosig-records-given-split": Case("sk_no_signature", _json({"dataframe_records": FRAME.to_dict("split")}), 400),
    "nosig-split-given-records": Case("sk_no_signature", _json({"dataframe_split": FRAME.to_dict("records")}), 400),
    "nosig-split-index-mismatch": Case(
        "sk_no_signature", _json({"dataframe_split": {"index": [1, 2], "data": [[1], [2], [3]]}}), 400
    ),
    "nosig-incompatible-frame": Case(
        "sk_no_signature", _json({"dataframe_split": pd.DataFrame(np.arange(10)).to_dict("split")}), 400
    ),
    "nosig-empty-csv": Case("sk_no_signature", b"", 400, CSV),
    "nosig-records": Case("sk_no_signature", _json({"dataframe_records": FRAME.to_dict("records")}), 200),
    "nosig-records-charset": Case(
        "sk_no_signature", _json({"dataframe_records": FRAME.to_dict("records")}), 200, JSON + "; charset=UTF-8"
    ),
    "nosig-split-integer-columns": Case("sk_no_signature", _json({"dataframe_split": FRAME.to_dict("split")}), 200),
    "nosig-unsupported-content-type": Case(
        "sk_no_signature", FRAME.to_json(orient="split").encode(), 415, "not_a_supported_content_type"
    ),
    "nosig-unknown-content-parameter": Case(
        "sk_no_signature", FRAME.to_json(orient="split").encode(), 415, JSON + "; something=something"
    ),
    "nosig-instances": Case("sk_no_signature", _json({"instances": X.tolist()}), 200),
    "nosig-inputs": Case("sk_no_signature", _json({"inputs": X.tolist()}), 200),
    "nosig-csv": Case("sk_no_signature", FRAME.to_csv(index=False).encode(), 200, CSV),
    "nosig-parquet": Case("sk_no_signature", _parquet(NAMED), 200, PARQUET),
    "nosig-unknown-params": Case(
        "sk_no_signature", _json({"dataframe_split": FRAME.to_dict("split"), "params": {"k": 1}}), 200
    ),
    # --- scikit-learn trained on a numpy array: a tensor signature ---
    "tensor-instances": Case("sk_tensor", _json({"instances": X.tolist()}), 200),
    "tensor-inputs": Case("sk_tensor", _json({"inputs": X.tolist()}), 200),
    "tensor-split": Case("sk_tensor", _json({"dataframe_split": FRAME.to_dict("split")}), 200),
    "tensor-wrong-width": Case("sk_tensor", _json({"inputs": [[1.0, 2.0, 3.0]]}), 400),
    "tensor-strings": Case("sk_tensor", _json({"inputs": [["a", "b"]]}), 400),
    "tensor-integers": Case("sk_tensor", _json({"inputs": [[5, 3]]}), 200),
    "tensor-csv": Case("sk_tensor", FRAME.to_csv(index=False).encode(), 400, CSV),
    # --- scikit-learn on `pd.DataFrame(X)`: integer column names, input example with integer columns ---
    "intcols-split": Case("sk_integer_columns", _json({"dataframe_split": FRAME.to_dict("split")}), 200),
    "intcols-split-params": Case(
        "sk_integer_columns", _json({"dataframe_split": FRAME.to_dict("split"), "params": {"a": 1}}), 200
    ),
    "intcols-records": Case("sk_integer_columns", _json({"dataframe_records": FRAME.to_dict("records")}), 400),
    "intcols-instances": Case("sk_integer_columns", _json({"instances": X.tolist()}), 200),
    "intcols-csv": Case("sk_integer_columns", FRAME.to_csv(index=False).encode(), 400, CSV),
    "intcols-missing-column": Case("sk_integer_columns", _json({"dataframe_split": FRAME[[0]].to_dict("split")}), 400),
    # --- scikit-learn with named double columns: the fast path ---
    "named-records": Case("sk_named", _json({"dataframe_records": NAMED.to_dict("records")}), 200),
    "named-split": Case("sk_named", _json({"dataframe_split": NAMED.to_dict("split")}), 200),
    "named-inputs-columns": Case("sk_named", _json({"inputs": NAMED.to_dict("list")}), 200),
    "named-csv": Case("sk_named", NAMED.to_csv(index=False).encode(), 200, CSV),
    "named-parquet": Case("sk_named", _parquet(NAMED), 200, PARQUET),
    "named-split-integer-columns": Case("sk_named", _json({"dataframe_split": FRAME.to_dict("split")}), 400),
    "named-missing-column": Case(
        "sk_named", _json({"dataframe_records": NAMED[["sepal_length"]].to_dict("records")}), 400
    ),
    "named-string-value": Case(
        "sk_named", _json({"dataframe_records": [{"sepal_length": "long", "sepal_width": 3.0}]}), 400
    ),
    "named-boolean-value": Case(
        "sk_named", _json({"dataframe_records": [{"sepal_length": True, "sepal_width": 3.0}]}), 200
    ),
    "named-integer-values": Case(
        "sk_named", _json({"dataframe_records": [{"sepal_length": 5, "sepal_width": 3}]}), 200
    ),
    "named-extra-column": Case(
        "sk_named", _json({"dataframe_records": [{"sepal_length": 5.1, "sepal_width": 3.5, "id": "a"}]}), 200
    ),
    "named-zero-rows": Case("sk_named", _json({"dataframe_split": {"columns": list(NAMED.columns), "data": []}}), 400),
    # --- a param schema (MLflow's `test_serving_model_with_param_schema`) ---
    "params-none": Case("sk_params", _json({"dataframe_split": FRAME.to_dict("split")}), 200),
    "params-invalid-value": Case(
        "sk_params", _json({"dataframe_split": FRAME.to_dict("split"), "params": {"param1": "invalid_value1"}}), 400
    ),
    "params-unknown": Case(
        "sk_params", _json({"dataframe_split": FRAME.to_dict("split"), "params": {"invalid_param": "value"}}), 200
    ),
    "params-valid": Case(
        "sk_params", _json({"dataframe_split": FRAME.to_dict("split"), "params": {"param1": "2024-01-01"}}), 200
    ),
    "named-params-none": Case("sk_named_params", _json({"dataframe_records": NAMED.to_dict("records")}), 200),
    "named-params-valid": Case(
        "sk_named_params", _json({"dataframe_records": NAMED.to_dict("records"), "params": {"threshold": 0.7}}), 200
    ),
    "named-params-invalid-value": Case(
        "sk_named_params",
        _json({"dataframe_records": NAMED.to_dict("records"), "params": {"threshold": "high"}}),
        400,
    ),
    # --- every MLflow data type (MLflow's `test_serving_model_with_schema`, `test_parse_with_schema`) ---
    "types-split": Case("all_types", _json({"dataframe_split": TYPES.to_dict("split")}), 200),
    "types-records": Case("all_types", _json({"dataframe_records": TYPES.to_dict("records")}), 200),
    "types-inputs": Case("all_types", _json({"inputs": TYPES.to_dict("list")}), 200),
    "types-shuffled-columns": Case(
        "all_types", _json({"dataframe_split": TYPES[list(reversed(TYPES.columns))].to_dict("split")}), 200
    ),
    "types-missing-column": Case(
        "all_types", _json({"dataframe_split": TYPES.drop(columns="binary").to_dict("split")}), 400
    ),
    # --- string input ---
    "strings-inputs": Case("strings", _json({"inputs": ["test"]}), 200),
    "strings-inputs-several": Case("strings", _json({"inputs": ["a", "b", "c"]}), 200),
    "strings-instances": Case("strings", _json({"instances": ["test"]}), 200),
    "strings-split": Case("strings", _json({"dataframe_split": {"data": [["x"], ["y"]]}}), 200),
    # --- optional columns ---
    "optional-both": Case("optional", _json({"dataframe_records": [{"a": 1.5, "b": "x"}]}), 200),
    "optional-absent": Case("optional", _json({"dataframe_records": [{"a": 1.5}]}), 200),
    "optional-required-absent": Case("optional", _json({"dataframe_records": [{"b": "x"}]}), 400),
    # --- MLflow 3's Array / Object / Map ---
    "nested-records": Case(
        "nested",
        _json({"dataframe_records": [{"vec": [1.0, 2.5], "place": {"city": "Oslo"}, "counts": {"a": 1, "b": 2}}]}),
        200,
    ),
    "nested-inputs": Case(
        "nested", _json({"inputs": {"vec": [[1.0]], "place": [{"city": "Rome"}], "counts": [{"x": 3}]}}), 400
    ),
    "nested-wrong-array": Case(
        "nested",
        _json({"dataframe_records": [{"vec": ["a"], "place": {"city": "Oslo"}, "counts": {"a": 1}}]}),
        400,
    ),
    # --- the unwrapped LLM formats ---
    "chat-messages": Case("chat", _json({"messages": CHAT}), 200),
    "chat-messages-params": Case("chat", _json({"messages": CHAT, "temperature": 0.1, "max_tokens": 5}), 200),
    "chat-messages-unknown-key": Case("chat", _json({"messages": CHAT, "stream_id": "abc"}), 200),
    "chat-messages-invalid-param": Case("chat", _json({"messages": CHAT, "max_tokens": "many"}), 400),
    "completions-prompt": Case("completions", _json({"prompt": "hello"}), 200),
    "completions-prompts-params": Case("completions", _json({"prompt": ["a", "bc"], "max_tokens": 5}), 200),
    "embeddings-input": Case("completions", _json({"input": ["one", "three"]}), 200),
    "embeddings-input-string": Case("completions", _json({"input": "one"}), 200),
    # --- a type-hinted model (MLflow validates the hint itself) ---
    "hinted-inputs": Case("hinted", _json({"inputs": ["abc", "de"]}), 200),
    "hinted-split": Case("hinted", _json({"dataframe_split": {"data": [["abc"]]}}), 400),
    "hinted-wrong-type": Case("hinted", _json({"inputs": [1, 2]}), 400),
    # --- a model without a signature that raises: MLflow's 400 ---
    "raises-nosig-ok": Case("raises_no_signature", _json({"inputs": [[1.0], [2.0]]}), 200),
    "raises-nosig-raises": Case("raises_no_signature", _json({"inputs": [[1.0], [-2.0]]}), 400),
}
