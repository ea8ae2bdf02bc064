"""Health, readiness, MLflow's `/ping` `/health` `/version`, `/model` and `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from service.readiness import not_alive_reason, not_ready_reason
from service.routes.common import State
from service.routes.model_info import describe, json_response

router = APIRouter()


@router.get("/health/live", tags=["health"])
async def live(state: State) -> Response:
    """200 while the process can serve; 503 once model calls have been stuck for STUCK_LIVENESS_S."""
    if (reason := not_alive_reason(state)) is not None:
        return JSONResponse({"status": "not alive", "reason": reason}, status_code=503)
    return JSONResponse({"status": "alive"})


@router.get("/health/ready", tags=["health"])
async def ready(state: State) -> Response:
    """200 only while a model is loaded and serving; 503 with the reason otherwise (also while model calls
    are stuck, so the pod leaves the Service until a call returns, and until every worker serves)."""
    if (reason := not_ready_reason(state)) is not None:
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
    serving = [(served.name, served.current.version) for served in state.models if served.current is not None]
    if len(state.models) == 1:
        name, version = serving[0]  # ready implies a model
        return JSONResponse({"status": "ready", "model": name, "version": version})
    return JSONResponse({"status": "ready", "models": dict(serving)})


@router.get("/ping", tags=["health"])
@router.get("/health", tags=["health"])
async def ping(state: State) -> Response:
    """As `mlflow models serve`: 200 with a newline when ready (here: 503 with the reason otherwise)."""
    if (reason := not_ready_reason(state)) is not None:
        return PlainTextResponse(f"{reason}\n", status_code=503)
    return Response("\n", media_type="application/json")


@router.get("/version", tags=["health"])
async def version() -> Response:
    """The MLflow version, as `mlflow models serve` answers."""
    from mlflow.version import VERSION

    return Response(VERSION, media_type="application/json")


@router.get("/model", tags=["model"])
async def model_info(state: State) -> Response:
    """What is being served, and how following the alias is going; `{"models": [...]}` when several are."""
    described = [describe(served, state.settings) for served in state.models]
    return json_response(described[0] if len(described) == 1 else {"models": described})


@router.get("/metrics", tags=["metrics"])
async def metrics(state: State) -> Response:
    body, content_type = state.metrics.exposition()
    return Response(body, media_type=content_type)
