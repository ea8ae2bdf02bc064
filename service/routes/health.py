"""Health, readiness, MLflow's `/ping` `/health` `/version`, `/model` and `/metrics`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from service.metrics import multiprocess_dir
from service.readiness import not_alive_reason, not_ready_reason
from service.routes.common import State
from service.worker_states import worker_states

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
    model = state.manager.current
    assert model is not None  # ready implies a model
    return JSONResponse({"status": "ready", "model": model.name, "version": model.version})


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
async def model_info(state: State) -> dict[str, Any]:
    """What is being served, and how following the alias is going."""
    manager = state.manager
    model = manager.current
    target = manager.target
    info: dict[str, Any] = {
        "name": target.name,
        "alias": target.alias,
        "stage": target.stage,
        "following": target.following and state.settings.reload_interval_s > 0,
        "version": None,
        "run_id": None,
        "source": None,
        "flavor": None,
        "loaded_at": None,
        "signature": None,
        "runtime": None,
        "compilation": None,
        "alias_missing": manager.alias_missing,
        "registry_reachable": manager.registry_ok,
        "cached_versions": list(manager.cache),
        "last_error": manager.last_error,
        "code_version": state.settings.code_version or None,
        "shadow": state.predictor.shadow.stats() if state.predictor.shadow is not None else None,  # issue 18
    }
    if (folder := multiprocess_dir()) is not None:
        info["workers"] = [  # each worker process's own view: right after a swap they may differ for a moment
            {"pid": w.pid, "ready": w.ready, "version": w.versions[0] if w.versions else None}
            for w in worker_states(folder)
        ]
    if model is not None:
        signature = model.signature or {}
        info.update(
            version=model.version,
            run_id=model.meta.run_id,
            source=model.meta.source,
            flavor=model.flavor,
            runtime=model.runtime,
            compilation=model.compilation.as_dict() if model.compilation is not None else None,
            loaded_at=datetime.fromtimestamp(model.loaded_at, UTC).isoformat(),
            signature={k: json.loads(v) if isinstance(v, str) else v for k, v in signature.items()} or None,
            warm_up_error=model.warm_up_error,
        )
    return info


@router.get("/metrics", tags=["metrics"])
async def metrics(state: State) -> Response:
    body, content_type = state.metrics.exposition()
    return Response(body, media_type=content_type)
