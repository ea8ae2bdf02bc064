"""Stage URIs (`models:/<name>/<stage>`): parsed as MLflow does, served, and followed on stage transitions."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from service.model_uri import ModelURI, parse_model_uri
from tests.conftest import RegisteredModel
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService
from tests.service.test_following import Versions, metric_value, register_versions, served_version
from tests.service.test_startup import _run
from tests.traffic import Traffic


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/m/Production", ModelURI("m", stage="Production")),
        ("models:/m/production", ModelURI("m", stage="Production")),
        ("models:/m/STAGING", ModelURI("m", stage="Staging")),
        ("models:/m/archived", ModelURI("m", stage="Archived")),
        ("models:/m/3", ModelURI("m", version="3")),
        ("models:/m@Production", ModelURI("m", alias="Production")),
    ],
)
def test_stage_uris_parse_case_insensitively_and_digits_stay_versions(uri: str, expected: ModelURI) -> None:
    parsed = parse_model_uri(uri)
    assert parsed == expected
    assert parsed.following is (expected.version is None)


def test_a_word_that_is_no_stage_is_refused_naming_the_stages() -> None:
    with pytest.raises(ValueError, match="Staging, Production, Archived"):
        parse_model_uri("models:/m/Prod")


def transition(v: Versions, version: str, stage: str = "Production") -> None:
    v.client.transition_model_version_stage(v.name, version, stage, archive_existing_versions=True)


@pytest.fixture(scope="module")
def staged(mlflow_server: MlflowServer, demo_model: RegisteredModel) -> Versions:
    v = register_versions(mlflow_server, demo_model, 3)
    transition(v, v.versions[0])
    return v


def test_stage_moved_under_load_fails_no_request(
    staged: Versions, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = staged
    transition(v, v.versions[0])
    uri = f"models:/{v.name}/production"  # MLflow matches stages in any case
    service = start_service({"MODEL_URI": uri, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0.5"})
    info = httpx.get(f"{service.url}/model").json()
    assert (info["stage"], info["alias"], info["following"], info["version"]) == (
        "Production",
        None,
        True,
        v.versions[0],
    )
    flips = [v.versions[1], v.versions[2], v.versions[0]]
    with Traffic(f"{service.url}/invocations", v.body, clients=8) as traffic:
        for version in flips:
            transition(v, version)
            wait_until(lambda version=version: traffic.last_version == version, timeout=120, what=f"v{version}")
    assert traffic.failures == []
    assert set(traffic.versions) == set(v.versions)
    assert metric_value(service, f'model_reloads_total{{model="{v.name}",result="success"}}') >= 3


def test_several_versions_in_the_stage_serve_the_latest_and_admin_reload_follows(
    staged: Versions, mlflow_server: MlflowServer, start_service: Callable[..., RunningService]
) -> None:
    v = staged
    transition(v, v.versions[0], "Staging")
    service = start_service(
        {
            "MODEL_URI": f"models:/{v.name}/Staging",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "ADMIN_TOKEN": "t0ken",
        }
    )
    assert served_version(service, v.body) == v.versions[0]
    # Not archiving the others: two versions in Staging, and MLflow's stage URI means the latest of them.
    v.client.transition_model_version_stage(v.name, v.versions[1], "Staging")
    assert served_version(service, v.body) == v.versions[0]  # polling is off
    response = httpx.post(f"{service.url}/admin/reload", headers={"Authorization": "Bearer t0ken"}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json() == {"previous": v.versions[0], "current": v.versions[1]}
    assert served_version(service, v.body) == v.versions[1]


def test_an_empty_stage_is_one_line_and_exit_2(demo_model: RegisteredModel) -> None:
    uri = f"models:/{demo_model.name}/Archived"  # the demo model is aliased, never moved between stages
    result = _run({"MLFLOW_TRACKING_URI": demo_model.tracking_uri}, "--model-uri", uri)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no version is in stage Archived" in result.stderr
