"""`POST /invocations`: MLflow's scoring protocol."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from service.middleware import request_id_of
from service.protocols import mlflow as protocol
from service.routes.common import State, prediction_headers, read_body
from service.routes.openapi import INVOCATIONS_BODY

router = APIRouter()

# Bodies above this size are parsed in a thread, so the event loop keeps serving other requests.
_PARSE_IN_THREAD_BYTES = 256 * 1024


@router.post("/invocations", openapi_extra=INVOCATIONS_BODY, summary="Score rows (MLflow scoring protocol)")
async def invocations(request: Request, state: State) -> Response:
    body = await read_body(request, state.settings.max_request_bytes)
    content_type = request.headers.get("content-type")
    if len(body) > _PARSE_IN_THREAD_BYTES:
        scoring = await asyncio.to_thread(protocol.parse, body, content_type)
    else:
        scoring = protocol.parse(body, content_type)
    prediction = await state.predictor.predict(
        scoring.table, request_id_of(request.scope), scoring.method, scoring.params
    )
    return Response(
        protocol.response(prediction.output, prediction.classes),
        media_type="application/json",
        headers=prediction_headers(prediction),
    )
