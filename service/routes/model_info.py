"""`GET /model`'s object for one served model: what it follows, what serves, how following goes.

Dashboards and scripts poll `/model`, and it is answered on the event loop: with 100 models FastAPI's
`jsonable_encoder` walked the whole answer in Python (~130 ms on a loaded 2-core machine, every model's
traffic waiting behind it). It is serialised with orjson instead (~1 ms), and each signature, which MLflow
keeps as JSON text, is embedded as it is (`orjson.Fragment`) rather than parsed and serialised again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Response

from service.memory_budget import MB
from service.metrics import multiprocess_dir
from service.served_model import ServedModel
from service.settings import Settings
from service.worker_states import worker_states


def describe(served: ServedModel, settings: Settings) -> dict[str, Any]:
    manager = served.manager
    model = manager.current
    target = manager.target
    info: dict[str, Any] = {
        "name": target.name,
        "alias": target.alias,
        "stage": target.stage,
        "following": target.following and settings.reload_interval_s > 0,
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
        "code_version": settings.code_version or None,
        # memory budget: an unloaded model serves its alias's version on demand (service/budgeted_loading.py)
        "loaded": model is not None,
        "memory_mb": round(served.residency.memory_bytes / MB, 3),
        "shadow": served.shadow.stats() if served.shadow is not None else None,  # shadow scoring (issue 18)
    }
    if model is None and manager.deferred is not None:
        info.update(version=manager.deferred.version, run_id=manager.deferred.run_id, source=manager.deferred.source)
    if (folder := multiprocess_dir()) is not None:
        info["workers"] = [  # each worker process's own view: right after a swap they may differ for a moment
            {"pid": w.pid, "ready": w.ready, "version": w.versions.get(target.name)} for w in worker_states(folder)
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
            signature={k: orjson.Fragment(v) if isinstance(v, str) else v for k, v in signature.items()} or None,
            warm_up_error=model.warm_up_error,
        )
    return info


def json_response(body: object) -> Response:
    """`body` as JSON; numpy values as numbers, NaN as null (Starlette's `JSONResponse` refuses NaN: a 500)."""
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")
