"""Whether this process may take traffic (ready) and whether it should be restarted (not live).

One answer for every health route: `/health/ready`, MLflow's `/ping` and `/health`, and the V2 routes
`/v2/health/ready` and `/v2/health/live` all ask here, so a load balancer probing any of them sees the same.
"""

from __future__ import annotations

from service.metrics import multiprocess_dir
from service.routes.common import AppState
from service.worker_states import worker_states


def not_ready_reason(state: AppState) -> str | None:
    """None when a model serves, its calls are not stuck, and every worker serves; else why not."""
    if state.manager.current is None:
        return state.manager.not_ready_reason or "no model loaded"
    if state.predictor.batcher.stuck_for_s() is not None:
        return state.predictor.batcher.stuck_reason()
    return _workers_not_serving(state)


def not_alive_reason(state: AppState) -> str | None:
    """None while the process can serve; never asks MLflow. Model calls stuck for STUCK_LIVENESS_S are the
    exception: a running call cannot be stopped, so only a restart frees the pod."""
    stuck_for = state.predictor.batcher.stuck_for_s()
    bound = state.settings.stuck_liveness_s
    if stuck_for is not None and stuck_for >= bound:
        return f"model calls stuck for {stuck_for:.0f}s (STUCK_LIVENESS_S={bound:g}): restart to free them"
    return None


def _workers_not_serving(state: AppState) -> str | None:
    """With several workers any of them may take the next connection: ready only when all serve."""
    expected, folder = state.settings.workers, multiprocess_dir()
    if expected < 2 or folder is None:
        return None
    serving = sum(worker.ready for worker in worker_states(folder))
    return None if serving >= expected else f"{serving} of {expected} workers serve a model (WORKERS={expected})"
