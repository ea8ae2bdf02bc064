"""Whether this process may take traffic (ready) and whether it should be restarted (not live).

One answer for every health route: `/health/ready`, MLflow's `/ping` and `/health`, and the V2 routes
`/v2/health/ready` and `/v2/health/live` all ask here, so a load balancer probing any of them sees the same.
"""

from __future__ import annotations

from service.metrics import multiprocess_dir
from service.routes.common import AppState
from service.served_model import ServedModel
from service.worker_states import worker_states


def not_ready_reason(state: AppState) -> str | None:
    """None when the served models serve, and every worker serves; else why not.

    One model: ready while it has a version serving and its calls are not stuck, as always. Several: ready
    once at least one serves and every model selected at start serves or has had `MODEL_STARTUP_BOUND_S` to
    load; a model whose calls are stuck answers 503 on its own routes only, the others keep serving.
    """
    models = list(state.models)
    if not models:
        selection_error = state.selection.last_error if state.selection is not None else None
        return f"MODEL_FILTER could not be read: {selection_error}" if selection_error else "no model is selected"
    if len(models) == 1:
        if (reason := model_not_ready_reason(models[0])) is not None:
            return reason
    else:
        for served in models:
            if served.holds_readiness():
                return f"{served.name}: {served.manager.not_ready_reason or 'no model loaded'}"
        if all(served.manager.current is None for served in models):
            return f"none of the {len(models)} models has a version serving yet"
    return _workers_not_serving(state, models)


def model_not_ready_reason(served: ServedModel) -> str | None:
    """None when this model has a version serving and its calls are not stuck; else why not."""
    if served.manager.current is None:
        return served.manager.not_ready_reason or "no model loaded"
    if served.batcher.stuck_for_s() is not None:
        return served.batcher.stuck_reason()
    return None


def not_alive_reason(state: AppState) -> str | None:
    """None while the process can serve; never asks MLflow. Model calls stuck for STUCK_LIVENESS_S are the
    exception: a running call cannot be stopped, so only a restart frees the pod.

    With several models only all of them stuck restarts the process: one hung model must not take the
    others down with it (its own routes answer 503)."""
    bound = state.settings.stuck_liveness_s
    stuck = [served.batcher.stuck_for_s() for served in state.models]
    if not stuck or any(seconds is None or seconds < bound for seconds in stuck):
        return None
    stuck_for = min(seconds for seconds in stuck if seconds is not None)
    return f"model calls stuck for {stuck_for:.0f}s (STUCK_LIVENESS_S={bound:g}): restart to free them"


def _workers_not_serving(state: AppState, models: list[ServedModel]) -> str | None:
    """With several workers any of them may take the next connection: ready only when all serve (the
    models this worker serves; with several models, a model no version of serves here is not asked of them)."""
    expected, folder = state.settings.workers, multiprocess_dir()
    if expected < 2 or folder is None:
        return None
    workers = worker_states(folder)
    if len(models) == 1:
        serving = sum(worker.ready for worker in workers)
    else:
        names = [served.name for served in models if served.manager.current is not None]
        serving = sum(all(name in worker.versions for name in names) for worker in workers)
    return None if serving >= expected else f"{serving} of {expected} workers serve a model (WORKERS={expected})"
