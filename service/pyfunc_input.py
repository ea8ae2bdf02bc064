"""MLflow's own input handling, for every model the fast path does not provably answer the same.

`mlflow models serve` parses a request with the model's input schema (`_parse_json_data`,
`parse_csv_input`, `parse_parquet_input` in `mlflow.pyfunc.scoring_server`), and `PyFuncModel.predict`
enforces the signature and the params schema. This module calls those functions rather than
re-implementing them, so a model shape nobody here thought of (tensor specs, integer column names,
MLflow 3's Array/Object/Map types, params schemas, the unwrapped chat/completions/embeddings formats,
type-hinted models) is answered as MLflow answers it. Translation only: no HTTP, no batching.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from service.errors import ClientError, ModelError
from service.logs import redact

log = logging.getLogger(__name__)

_MESSAGE_CHARS = 1000
"""MLflow's messages quote the whole input (`Failed to enforce schema of data '...'`): cut them short."""


@dataclass
class PyfuncRequest:
    """A request as MLflow's scoring server hands it to `PyFuncModel.predict`."""

    data: Any
    params: dict[str, Any] | None
    unwrapped: bool
    """Chat/completions/embeddings input sent without a wrapper key: answered without `predictions`."""
    counted: bool = True
    """A model error on this request counts in `model_errors_total` (not for a fast-path refusal retried here)."""

    @property
    def n_rows(self) -> int | None:
        """Rows, where the input has a length (for MAX_ROWS and capture); None for a scalar or a string."""
        if isinstance(self.data, pd.DataFrame | np.ndarray | list):
            return len(self.data)
        if isinstance(self.data, dict) and self.data:
            lengths = {len(v) for v in self.data.values() if isinstance(v, np.ndarray | list) and np.ndim(v) > 0}
            return lengths.pop() if len(lengths) == 1 else None
        return None


def parse(body: bytes, mime: str, model_meta: Any) -> PyfuncRequest:
    """The body parsed exactly as `mlflow models serve` parses it for this model (`mime` already checked)."""
    mlflow_server = _scoring_server()
    schema = model_meta.get_input_schema()
    try:
        if mime == mlflow_server.CONTENT_TYPE_JSON:
            parsed = mlflow_server._parse_json_data(body, model_meta, schema)
            return PyfuncRequest(parsed.data, parsed.params, parsed.is_unified_llm_input)
        if mime == mlflow_server.CONTENT_TYPE_CSV:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ClientError(f"the CSV body is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
            return PyfuncRequest(mlflow_server.parse_csv_input(io.StringIO(text), schema), None, False)
        return PyfuncRequest(mlflow_server.parse_parquet_input(io.BytesIO(body)), None, False)
    except Exception as exc:
        raise refusal(exc) from None


def refusal(exc: Exception) -> ClientError:
    """An exception from MLflow's parsing or enforcement, with the status and error code MLflow answers."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, MlflowException):
        status: int = exc.get_http_status_code()  # type: ignore[no-untyped-call]
        return ClientError(_short(exc.message), status, str(exc.error_code))
    # MLflow lets these escape as a bare 500; a request that breaks the parser is still the client's.
    return ClientError(_short(f"the input could not be parsed: {type(exc).__name__}: {exc}"))


def predict(model: Any, request: PyfuncRequest, name: str, version: str, has_signature: bool) -> Any:
    """`PyFuncModel.predict`, with MLflow's rule for passing params; failures sorted by whose they are.

    An MlflowException is MLflow refusing the input (schema or params enforcement): its own status and
    code. Anything else was raised by the model: a ModelError, 500 when the input passed a signature,
    400 as MLflow answers when there is none (nothing tells an input fault from a model fault there).
    """
    import inspect

    from mlflow.exceptions import MlflowException

    try:
        if "params" in inspect.signature(model.predict).parameters:
            return model.predict(request.data, params=request.params)
        return model.predict(request.data)
    except MlflowException as exc:
        raise refusal(exc) from None
    except Exception as exc:
        raise model_error(exc, name, version, has_signature) from exc


def model_error(exc: BaseException, name: str, version: str, has_signature: bool) -> ModelError:
    """The answer to an exception raised inside a model: names the model, version and exception type only."""
    detail = _short(redact(str(exc)), 300)
    message = f"model {name} version {version} raised {type(exc).__name__}" + (f": {detail}" if detail else "")
    if has_signature:
        return ModelError(message, 500, "INTERNAL_ERROR")
    return ModelError(message, 400, "BAD_REQUEST")


def response(predictions: Any, unwrapped: bool) -> bytes:
    """MLflow's own serialisation (`predictions_to_json`, or unwrapped for the LLM formats)."""
    mlflow_server = _scoring_server()
    out = io.StringIO()
    if unwrapped:
        mlflow_server.unwrapped_predictions_to_json(predictions, out)
    else:
        mlflow_server.predictions_to_json(predictions, out)
    return out.getvalue().encode()


def capturable(request: PyfuncRequest, output: Any) -> dict[str, np.ndarray] | None:
    """Named columns and one label per row, when the request was a table: what the capture can store."""
    data = request.data
    if not isinstance(data, pd.DataFrame) or not len(data):
        return None
    labels = np.asarray(output) if isinstance(output, np.ndarray | pd.Series | list) else None
    if labels is None or labels.ndim != 1 or len(labels) != len(data):
        return None
    return {str(name): data[name].to_numpy() for name in data.columns}


def _scoring_server() -> Any:
    """`mlflow.pyfunc.scoring_server` (untyped): the functions `mlflow models serve` runs."""
    from mlflow.pyfunc import scoring_server

    return scoring_server


def _short(text: str, limit: int = _MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
