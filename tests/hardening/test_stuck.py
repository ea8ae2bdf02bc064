"""A model whose calls hang: not ready while stuck, not live after STUCK_LIVENESS_S, both back when a call returns.

The sleepy model's calls here block until the test creates a release file, so the hang lasts as long as
the test needs, whatever the machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.hardening.test_limits import MAX_ABANDONED, log_sleepy_model
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.service.test_following import metric_value

HANG_S = 600.0
"""Longest a call blocks if the release file never comes (the test creates it long before)."""


def _predict(service: RunningService, release: Path | None = None) -> httpx.Response:
    params = {"sleep_s": HANG_S if release else 0.0, "trace": "", "release": str(release or "")}
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.5]]}, "params": params}
    return httpx.post(f"{service.url}/invocations", json=body, timeout=60)


def _status(service: RunningService, path: str) -> int:
    return httpx.get(f"{service.url}{path}", timeout=10).status_code


def test_stuck_model_is_not_ready_then_not_live_and_recovers_when_calls_return(
    mlflow_server: MlflowServer, start_service: Callable[..., RunningService], tmp_path: Path
) -> None:
    name = log_sleepy_model(mlflow_server.uri)
    service = start_service(
        {
            "MODEL_URI": f"models:/{name}@Production",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "REQUEST_TIMEOUT_S": "0.5",
            "STUCK_LIVENESS_S": "2",
        }
    )
    assert (_status(service, "/health/ready"), _status(service, "/health/live")) == (200, 200)
    release = tmp_path / "release"
    try:
        assert [_predict(service, release).status_code for _ in range(MAX_ABANDONED + 1)] == [504] * 5

        not_ready = wait_until(
            lambda: (r := httpx.get(f"{service.url}/health/ready", timeout=10)).status_code == 503 and r,
            timeout=60,
            what="/health/ready to answer 503 while the calls are stuck",
        )
        assert "model calls are stuck" in not_ready.json()["reason"]
        assert metric_value(service, f'model_ready{{model="{name}"}}') == 0
        not_live = wait_until(
            lambda: (r := httpx.get(f"{service.url}/health/live", timeout=10)).status_code == 503 and r,
            timeout=60,
            what="/health/live to answer 503 once stuck for STUCK_LIVENESS_S",
        )
        assert "STUCK_LIVENESS_S=2" in not_live.json()["reason"]
        # every probe a load balancer or KServe may use says the same
        assert [_status(service, p) for p in ("/ping", "/health", "/v2/health/ready", "/v2/health/live")] == [503] * 4
        assert _predict(service).status_code == 503
    finally:
        release.touch()

    wait_until(lambda: _status(service, "/health/ready") == 200, timeout=60, what="ready again")
    assert _status(service, "/health/live") == 200
    assert [_status(service, p) for p in ("/ping", "/health", "/v2/health/ready", "/v2/health/live")] == [200] * 4
    assert _predict(service).json() == {"predictions": [3.0]}
    assert metric_value(service, f'model_ready{{model="{name}"}}') == 1
    log = service.log_text()
    assert log.count("model calls are stuck") == 1, log
