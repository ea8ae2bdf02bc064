"""`create_app(settings)`: the FastAPI app, its lifespan (load, follow, drain, flush) and error mapping."""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from service import logs
from service.budgeted_loading import BudgetedLoading
from service.capture import CaptureWriter
from service.compiled import Compiler
from service.errors import ClientError, ModelError, NotReadyError
from service.loaded_model import load_version
from service.logs import redact
from service.memory_budget import MemoryBudget
from service.metrics import Metrics
from service.middleware import RequestContext
from service.model_thread import ModelCallsStuck
from service.registry import Registry
from service.routes import admin, health, scoring, v2
from service.routes.common import AppState
from service.selection import SnapshotResolver
from service.selection_follower import SelectionFollower
from service.served_model import ModelServices, limited
from service.served_models import ServedModels
from service.settings import Settings, apply_mlflow_environment

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]  # read from the environment
    logs.configure(settings.log_level, settings.log_format)
    apply_mlflow_environment(settings)
    metrics = Metrics()
    cache_root = Path(tempfile.mkdtemp(prefix="aliasserve-models-"))
    slots = threading.BoundedSemaphore(settings.model_load_concurrency)
    loader = limited(partial(load_version, compiler=Compiler(settings.compile, metrics)), slots)
    budgeted = BudgetedLoading(MemoryBudget(settings.model_memory_budget_mb), metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        capture = None
        if settings.capture_uri:
            capture = CaptureWriter(
                settings.capture_uri,
                metrics,
                max_rows=settings.capture_queue_rows,
                flush_rows=settings.capture_flush_rows,
                flush_interval_s=settings.capture_flush_interval_s,
            )
        registry = Registry(settings.mlflow_tracking_uri)
        selection = None
        if settings.model_filter:
            resolver = SnapshotResolver(registry, settings.model_alias)
            models = ServedModels(ModelServices(settings, metrics, resolver, capture, loader, cache_root, budgeted))
            selection = SelectionFollower(
                models, resolver, settings.model_filter, settings.model_alias, settings.reload_interval_s, metrics
            )
        else:
            models = ServedModels(ModelServices(settings, metrics, registry, capture, loader, cache_root, budgeted))
        app.state.service = AppState(settings, metrics, models, selection)
        for uri in settings.models:
            await models.add(uri)
        if selection is not None:
            await selection.start()
        folding = asyncio.create_task(metrics.fold_calls_every()) if metrics.multiprocess else None
        _freeze_startup_objects()
        following = settings.model_uri or f"{settings.model_filter!r} at @{settings.model_alias}"
        log.info("following %s on %s", following, redact(settings.mlflow_tracking_uri))
        try:
            yield
        finally:
            log.info("shutting down: finishing queued predictions, flushing capture")
            if selection is not None:
                await selection.stop()
            await models.close()
            if folding is not None:
                folding.cancel()
            metrics.calls.fold()  # with several workers, the last calls' counts go to the shared files
            if capture is not None:
                capture.close()
            shutil.rmtree(cache_root, ignore_errors=True)
            log.info("shutdown complete")

    app = ServiceApp(
        title="aliasserve",
        summary="Serves an MLflow registered model by alias, follows the alias, records inputs for drift.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        # FastAPI's OpenTelemetry hook asks three global providers (and os.environ) on every request, ~2% of
        # a one-row request's CPU (bench/profile.md); this service reports through /metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    for router in (scoring.router, v2.router, health.router, admin.router):
        app.include_router(router)
    _error_handlers(app)
    app.add_request_context(metrics)
    return app


class ServiceApp(FastAPI):
    """FastAPI with the request context (`service/middleware.py`) as its outermost layer.

    Starlette's error middleware and FastAPI's own (telemetry, body limit) wrap every request in a
    coroutine and a `send` wrapper each: ~15 µs of a one-row prediction's CPU (`bench/profile.md`). The
    scoring routes, answered by the request context itself, skip them; every other request goes through
    them as before, with its ids and metrics from the context.
    """

    front: RequestContext | None = None

    def add_request_context(self, metrics: Metrics) -> None:
        """Ids and HTTP metrics for every request, the scoring routes called directly (until then: neither)."""
        self.front = RequestContext(partial(FastAPI.__call__, self), metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self.root_path:  # as FastAPI sets it, before the context decides what goes direct
            scope["root_path"] = self.root_path
        scope["app"] = self
        await self.front(scope, receive, send)


def _freeze_startup_objects() -> None:
    """Move everything imported so far out of the cyclic collector's reach.

    MLflow, pandas and scikit-learn leave a few hundred thousand long-lived objects; every full
    collection walks them all (150-500 ms measured under load), which set the p99 latency.
    """
    gc.collect()
    gc.freeze()


GIL_SWITCH_INTERVAL_S = 0.001
"""How long a thread waiting for the GIL waits before asking the holder to drop it (CPython's default: 5 ms).

ONNX Runtime and numpy release the GIL in every call the event loop makes; a background thread doing Python
work (the capture writer's flush, the registry poll) then keeps it for the whole interval before the loop
gets it back, per call: with 5 ms, the 99th percentile at 64 connections on the compiled logistic regression
was 627 ms, with 1 ms 283 ms (bench/profile.md)."""


GC_YOUNG_THRESHOLD = 10_000
"""Net container allocations between two young-generation collections (CPython 3.11's default: 700).

CPython counts an allocation up and a free down only while the count is above zero, and each collection
sets it to zero: the objects of the requests in flight when a collection ran are freed uncounted, so under
concurrency the count climbs ~20 a request though a request keeps only its capture record. At 700 that was
a young collection every ~35 requests at 64 connections, each walking and promoting the in-flight
requests' objects (then older collections of them): 13-17 µs of CPU a request in the collector; at 10,000,
3 collections in ~10,000 requests, ~1 µs a request (bench/profile.md, session 7). Garbage cycles wait a
little longer to be freed: at most this many young objects."""


def tune_interpreter() -> None:
    """The process-wide settings the service runs with (the GIL's switch interval, the collector's threshold)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def create_app_from_env() -> FastAPI:
    """The factory uvicorn workers call (`service.app:create_app_from_env`, factory mode)."""
    tune_interpreter()
    return create_app()


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError) -> JSONResponse:
        # After a 413 the rest of the body is unread: the connection is closed (service/server.py closes any
        # connection answered before its body was read); the header tells the client so.
        headers = {"Connection": "close"} if exc.status == 413 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(ModelError)
    async def model_error(request: Request, exc: ModelError) -> JSONResponse:
        """The model raised (counted in `model_errors_total` where it was caught, logged once per type)."""
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(ModelCallsStuck)
    async def stuck(request: Request, exc: ModelCallsStuck) -> JSONResponse:
        return JSONResponse(
            {"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(NotReadyError)
    async def not_ready(request: Request, exc: NotReadyError) -> JSONResponse:
        return JSONResponse(
            {"error_code": "TEMPORARILY_UNAVAILABLE", "message": f"no model is serving yet: {exc}"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            {"error_code": "BAD_REQUEST", "message": f"{where}: {first.get('msg', 'invalid request')}"},
            status_code=400,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
        return JSONResponse(
            {"error_code": code, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )
