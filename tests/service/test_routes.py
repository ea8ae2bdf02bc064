"""Health, readiness, MLflow's compatibility routes, /model and /metrics."""

from __future__ import annotations

import json

import httpx
import mlflow

from tests.conftest import RegisteredModel
from tests.helpers import tracking_uri_restored
from tests.processes import RunningService


def test_health_routes(demo_service: RunningService) -> None:
    assert httpx.get(f"{demo_service.url}/health/live").json() == {"status": "alive"}
    ready = httpx.get(f"{demo_service.url}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    for route in ("/ping", "/health"):
        assert httpx.get(f"{demo_service.url}{route}").status_code == 200
    assert httpx.get(f"{demo_service.url}/version").text == mlflow.__version__
    assert httpx.get(f"{demo_service.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{demo_service.url}/v2/health/ready").json() == {"ready": True}


def test_model_route_describes_the_served_version(demo_model: RegisteredModel, demo_service: RunningService) -> None:
    info = httpx.get(f"{demo_service.url}/model").json()
    assert info["name"] == demo_model.name
    assert info["alias"] == "Production"
    assert info["version"] == demo_model.version
    assert info["run_id"] == demo_model.run_id
    assert info["flavor"] == "sklearn"
    assert info["following"] is True
    assert info["source"].startswith("models:/")
    assert {c["name"] for c in info["signature"]["inputs"]} >= {"mean_radius", "size_band"}
    assert info["loaded_at"]
    # The signature as MLflow itself writes it (embedded as MLflow's JSON text, not re-encoded by hand). Read
    # from this model's own server: another test in this process may have pointed MLflow's global URI elsewhere.
    with tracking_uri_restored():
        mlflow.set_tracking_uri(demo_model.tracking_uri)
        signature = mlflow.models.get_model_info(f"models:/{demo_model.name}/{demo_model.version}").signature
    assert signature is not None
    expected = {k: json.loads(v) if isinstance(v, str) else v for k, v in signature.to_dict().items()}
    assert info["signature"] == expected


def test_metrics_route_counts_requests_by_route_template(
    demo_model: RegisteredModel, demo_service: RunningService
) -> None:
    httpx.get(f"{demo_service.url}/v2/models/{demo_model.name}")
    httpx.get(f"{demo_service.url}/no/such/path/{demo_model.name}")
    text = httpx.get(f"{demo_service.url}/metrics").text
    assert 'route="/v2/models/{name}"' in text
    assert 'route="unmatched"' in text
    assert f"/no/such/path/{demo_model.name}" not in text
    assert (
        f'model_info{{alias="Production",model="{demo_model.name}",run_id="{demo_model.run_id}",runtime="onnxruntime",version="{demo_model.version}"}} 1.0'
        in text
    )


def test_admin_and_webhook_routes_are_hidden_without_secrets(demo_service: RunningService) -> None:
    assert httpx.post(f"{demo_service.url}/admin/reload").status_code == 404
    assert httpx.post(f"{demo_service.url}/webhooks/mlflow", content=b"{}").status_code == 404


def test_unknown_route_and_method(demo_service: RunningService) -> None:
    assert httpx.get(f"{demo_service.url}/nope").status_code == 404
    assert httpx.get(f"{demo_service.url}/invocations").status_code == 405
