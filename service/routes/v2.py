"""The Open Inference Protocol (KServe V2) routes: inference, metadata and health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service.errors import ClientError, NotReadyError
from service.middleware import request_id_of
from service.predictor import Prediction, Predictor
from service.protocols import v2 as protocol
from service.protocols.v2_metadata import metadata
from service.readiness import model_not_ready_reason, not_alive_reason, not_ready_reason
from service.routes.common import AppState, PredictionResponse, State, read_body
from service.routes.openapi import NAME_PARAMETER, V2_INFER_BODY, VERSION_PARAMETER
from service.routes.scoring import DirectRoute
from service.served_model import ServedModel
from service.tensor_input import predict_tensors

router = APIRouter(prefix="/v2", tags=["v2"])


class V2Error(ClientError):
    """Errors on V2 routes are `{"error": message}`, as KServe and MLServer answer."""

    def body(self) -> dict[str, str]:  # type: ignore[override]
        return {"error": self.message}


def _served(state: State, name: str) -> ServedModel:
    try:
        return state.models.get(name)
    except ClientError as exc:
        raise V2Error(exc.message, exc.status, exc.error_code) from None


@router.get("")
async def server_metadata() -> dict[str, Any]:
    return {"name": "aliasserve", "version": "0.1.0", "extensions": protocol.EXTENSIONS}


@router.get("/health/live")
async def live(state: State) -> Response:
    is_live = not_alive_reason(state) is None
    return JSONResponse({"live": is_live}, status_code=200 if is_live else 503)


@router.get("/health/ready")
async def ready(state: State) -> Response:
    is_ready = not_ready_reason(state) is None
    return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@router.get("/models/{name}")
async def model_metadata(name: str, state: State) -> dict[str, Any]:
    return metadata(_served(state, name).predictor.model())


@router.get("/models/{name}/versions/{version}")
async def model_version_metadata(name: str, version: str, state: State) -> dict[str, Any]:
    """The protocol's versioned form (tritonclient sends it when given `model_version`): 404 for a version
    not in memory, as `/versions/{version}/infer` answers."""
    served = _served(state, name)
    try:
        model = served.predictor.model(version)
    except ClientError as exc:
        raise V2Error(exc.message, exc.status, exc.error_code) from None
    return metadata(model)


@router.get("/models/{name}/ready")
async def model_ready(name: str, state: State) -> Response:
    """200 `ready: true` while the model has a version serving and its calls are not stuck; else 503."""
    return _model_ready(name, None, state)


@router.get("/models/{name}/versions/{version}/ready")
async def model_version_ready(name: str, version: str, state: State) -> Response:
    """As `/models/{name}/ready`, for a version the model can score with (serving, or kept in memory)."""
    return _model_ready(name, version, state)


def _model_ready(name: str, version: str | None, state: State) -> Response:
    served = _served(state, name)
    if (reason := model_not_ready_reason(served)) is not None:
        return JSONResponse({"name": served.name, "ready": False, "reason": reason}, status_code=503)
    if version is None:
        return JSONResponse({"name": served.name, "ready": True})
    try:
        served.predictor.model(version)
    except ClientError as exc:
        return JSONResponse({"name": served.name, "version": version, "ready": False, "reason": exc.message}, 404)
    return JSONResponse({"name": served.name, "version": version, "ready": True})


async def infer(request: Request) -> Response:
    """A `DirectRoute`, called by the request middleware itself (`service/direct_routes.py`)."""
    return await _infer(request.path_params["name"], None, request, request.app.state.service)


async def infer_version(request: Request) -> Response:
    params = request.path_params
    return await _infer(params["name"], params["version"], request, request.app.state.service)


router.add_api_route(
    "/models/{name}/infer",
    infer,
    methods=["POST"],
    openapi_extra={**V2_INFER_BODY, "parameters": [NAME_PARAMETER]},
    route_class_override=DirectRoute,
)
router.add_api_route(
    "/models/{name}/versions/{version}/infer",
    infer_version,
    methods=["POST"],
    openapi_extra={**V2_INFER_BODY, "parameters": [NAME_PARAMETER, VERSION_PARAMETER]},
    route_class_override=DirectRoute,
)


async def _infer(name: str, version: str | None, request: Request, state: AppState) -> Response:
    try:
        served = _served(state, name)
        await served.loaded_for_call()  # memory budget: an unloaded model loads first
        predictor = served.predictor
        body = await read_body(request, state.settings.max_request_bytes)
        parsed = protocol.parse(body, request.headers.get("inference-header-content-length"))
        prediction = await _predict(parsed, version, request, predictor)
        content, header_length = protocol.response(
            prediction.model.name,
            prediction.model.version,
            parsed,
            protocol.named_outputs(prediction.output, parsed.method),
            prediction.classes,
        )
    except NotReadyError:
        raise
    except V2Error:
        raise
    except ClientError as exc:
        raise V2Error(exc.message, exc.status, exc.error_code) from None
    if header_length is None:
        return PredictionResponse(content, prediction)
    length = (b"inference-header-content-length", b"%d" % header_length)
    return PredictionResponse(content, prediction, "application/octet-stream", (length,))


async def _predict(
    parsed: protocol.InferRequest, version: str | None, request: Request, predictor: Predictor
) -> Prediction:
    """Models with a column signature take the table path (checked, batched, captured); others the tensors."""
    model = predictor.model(version)
    if model.schema is not None:
        table = protocol.to_table(parsed)
        return await predictor.predict(table, request_id_of(request.scope), parsed.method, version=version)
    tensors = {tensor.name: tensor.array() for tensor in parsed.tensors}
    return await predict_tensors(predictor, model, tensors, parsed.method)
