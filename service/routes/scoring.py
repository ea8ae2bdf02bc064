"""`POST /invocations`: MLflow's scoring protocol.

A model on the fast path (`LoadedModel.fast`) is answered by the project's parser and checker. A request
they refuse is handed to MLflow's own input handling before it is refused: if MLflow would answer it,
it is answered as MLflow answers it; if MLflow refuses it too, the client gets the project's clearer
message with MLflow's status and error code. Every other model takes MLflow's input handling directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from service import pyfunc_input
from service.errors import ClientError, ModelError
from service.loaded_model import LoadedModel
from service.middleware import RequestIds, header, request_id_of
from service.predictor import Prediction, Predictor
from service.protocols import mlflow as protocol
from service.routes.common import AppState, PredictionResponse, read_body
from service.routes.openapi import INVOCATIONS_BODY, NAME_PARAMETER


class DirectRoute(APIRoute):
    """A route whose endpoint reads the request and builds the response itself.

    FastAPI's own handler solves dependencies and parses query parameters and cookies on every request:
    about a fifth of the CPU of a one-row prediction. The OpenAPI description is kept. A `direct` route is
    called by `service/middleware.py` itself, past the router (`service/direct_routes.py`).
    """

    direct = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(request)
            return response

        return handle


router = APIRouter(route_class=DirectRoute)

# Bodies above this size are parsed in a thread, so the event loop keeps serving other requests.
_PARSE_IN_THREAD_BYTES = 256 * 1024


@router.post("/invocations", openapi_extra=INVOCATIONS_BODY, summary="Score rows (MLflow scoring protocol)")
@router.post(
    "/invocations/{name}",
    openapi_extra={**INVOCATIONS_BODY, "parameters": [NAME_PARAMETER]},
    summary="Score rows with one of several served models",
)
async def invocations(request: Request) -> Response:
    """`/invocations` when one model is served; `/invocations/{name}` names one of several."""
    state: AppState = request.app.state.service
    body = await read_body(request, state.settings.max_request_bytes)
    served = state.models.get(request.path_params.get("name"))
    await served.loaded_for_call()  # memory budget: an unloaded model loads first
    predictor = served.predictor
    content_type = header(request.scope, b"content-type")
    mime = protocol.mime_type(content_type)
    model = predictor.model()
    request_id = request_id_of(request.scope)
    if not model.fast:
        return _answer(await _as_mlflow(predictor, model, body, mime, request_id))
    try:
        if len(body) > _PARSE_IN_THREAD_BYTES:
            scoring = await asyncio.to_thread(protocol.parse, body, content_type)
        else:
            scoring = protocol.parse(body, content_type)
        prediction = await predictor.predict(scoring.table, request_id, scoring.method, scoring.params)
    except ClientError as refused:
        if refused.status != 400 or refused.error_code != "BAD_REQUEST":
            raise
        return _answer(await _as_mlflow_would(predictor, model, body, mime, request_id, refused))
    return PredictionResponse(protocol.response(prediction.output, prediction.classes), prediction)


async def _as_mlflow(
    predictor: Predictor, model: LoadedModel, body: bytes, mime: str, request_id: RequestIds
) -> Prediction:
    """Parsed and scored by MLflow's own input handling (`service/pyfunc_input.py`)."""
    if len(body) > _PARSE_IN_THREAD_BYTES:
        parsed = await asyncio.to_thread(pyfunc_input.parse, body, mime, model.model_meta)
    else:
        parsed = pyfunc_input.parse(body, mime, model.model_meta)
    return await predictor.predict_pyfunc(model, parsed, request_id)


async def _as_mlflow_would(
    predictor: Predictor, model: LoadedModel, body: bytes, mime: str, request_id: RequestIds, refused: ClientError
) -> Prediction:
    """What MLflow answers to a request the fast path refused: its answer, or its status for our message."""
    try:
        parsed = await asyncio.to_thread(pyfunc_input.parse, body, mime, model.model_meta)
        parsed.counted = False  # the fast path refused it: not a model error if the model raises too
        return await predictor.predict_pyfunc(model, parsed, request_id)
    except ClientError as theirs:
        raise ClientError(refused.message, theirs.status, theirs.error_code) from None
    except ModelError:
        raise refused from None


def _answer(prediction: Prediction) -> Response:
    return PredictionResponse(pyfunc_input.response(prediction.output, prediction.unwrapped), prediction)
