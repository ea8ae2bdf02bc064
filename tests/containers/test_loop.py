"""The whole loop in containers, on the prod overlay's settings: two predictor replicas capturing to the
shared S3 store, the drift CronJob's container finding the drift and retraining through MLflow, the gate
promoting, both replicas following, a rollback, and a replica deleted mid-traffic; no request fails and
no captured row is lost."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.containers.service import Clients, Service
from tests.containers.stack import Stack
from tests.deploy import manifests
from tests.helpers import wait_until
from tests.loop.test_closed_loop import bodies, shifted

pytestmark = pytest.mark.timeout(1800)
CAPTURE_PREFIX = "capture/"


def captured_request_ids(stack: Stack) -> dict[str, int]:
    """Rows in the shared capture store, by request id."""
    counts: dict[str, int] = {}
    for key in stack.s3.keys(CAPTURE_PREFIX):
        for request_id in stack.s3.frame(key)["_request_id"]:
            counts[request_id] = counts.get(request_id, 0) + 1
    return counts


def logged_at(stack: Stack, container: str, text: str) -> float:
    """When a container logged a line containing `text` (the engine's timestamp), as time.time()."""
    logs = stack.engine("logs", "--timestamps", container)
    for line in (logs.stdout + logs.stderr).splitlines():
        if text in line:
            stamp = line.split(" ", 1)[0]
            return datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()
    raise AssertionError(f"{container} never logged {text!r}")


def test_drift_retrains_promotes_follows_and_rolls_back_in_containers(stack: Stack, report: dict[str, Any]) -> None:
    from training.data import load_demo_frame

    later = shifted(load_demo_frame())
    stack.s3.put_frame("training/labeled.parquet", later)  # the Secret's retrain-data-uri
    replicas = [stack.pod("Deployment", manifests.PREDICTOR, f"replica-{i}") for i in range(2)]
    for replica in replicas:
        replica.wait_ready()
    original = httpx.get(f"{replicas[0].url()}/model", timeout=10).json()["version"]
    service = Service(replicas)
    timeline: dict[str, float] = {}
    try:
        with Clients(service, bodies(later), count=4) as clients:
            # The replicas flush their capture files at the prod settings' interval.
            wait_until(
                lambda: sum(captured_request_ids(stack).values()) >= 600, timeout=300, interval=2, what="captured rows"
            )
            timeline["drift_job_started"] = time.time()
            job = stack.job("drift-loop")  # the CronJob's container: command, args and env as rendered
            timeline["drift_job_exited"] = time.time()
            verdict = job.result
            assert verdict["drift_detected"] is True, verdict
            retrain = verdict["retrain"]
            assert (retrain["triggered"], retrain.get("status"), retrain.get("promoted")) == (True, "finished", True)
            promoted = str(retrain["version"])
            assert promoted != original
            pushed = [line for line in stack.pushgateway.metrics().splitlines() if line.startswith("drift_detected{")]
            assert len(pushed) == 1, pushed  # pushed by the job's --pushgateway, as rendered
            assert pushed[0].endswith(" 1"), pushed
            timeline["drift_found"] = logged_at(stack, job.pod.name, "retrain: starting")
            timeline["both_replicas_serve_new_version"] = clients.wait_versions(replicas, promoted, limit=180)

            rolled = stack.job("rollback", "python", "-m", "training", "rollback", "--model-name", "demo").result
            assert (rolled["production"], rolled["previous"]) == (original, promoted)
            timeline["rollback_done"] = time.time()
            timeline["both_replicas_serve_original_again"] = clients.wait_versions(replicas, original, limit=180)

            deleted, survivor = replicas
            service.remove(deleted)  # leaves the endpoints as the pod starts terminating
            assert deleted.delete() == 0, stack.engine.logs(deleted.name)[-3000:]
            served = clients.by_pod[survivor.name]
            wait_until(lambda: clients.by_pod[survivor.name] > served + 20, timeout=120, what="traffic after the drain")
        assert clients.failures == [], clients.failures[:10]
        assert survivor.delete() == 0, stack.engine.logs(survivor.name)[-3000:]
    finally:
        service.close()

    rows = captured_request_ids(stack)
    lost = clients.answered - set(rows)
    assert lost == set(), f"{len(lost)} answered requests have no captured row"
    assert all(rows[request_id] == 5 for request_id in clients.answered)  # every row of every request
    assert set(clients.by_pod) == {replica.name for replica in replicas}
    start = timeline["drift_job_started"]
    report["loop"] = {
        "requests": len(clients.answered),
        "failed_requests": len(clients.failures),
        "requests_by_replica": dict(clients.by_pod),
        "captured_rows": sum(rows.values()),
        "versions": {"original": original, "retrained": promoted},
        "timeline_s_from_drift_job_start": {name: round(at - start, 1) for name, at in timeline.items()},
        "drift_found_to_both_replicas_serving_s": round(
            timeline["both_replicas_serve_new_version"] - timeline["drift_found"], 1
        ),
    }
