"""Every kustomization renders, and every resource passes kubernetes-validate's strict schemas."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, latest_version

from tests.deploy import manifests

VERSIONS = ["1.33", latest_version()]
"""A Kubernetes release still widely run, and the newest kubernetes-validate ships schemas for."""

OPERATOR_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
"""CRDs with no built-in schema: test_monitoring.py checks them."""


def validate(resource: manifests.Resource, version: str) -> str | None:
    """None when valid; the reason otherwise."""
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return f"{resource['kind']}/{resource['metadata']['name']}: {path}: {error.message}"
    return None


@pytest.mark.parametrize("name", manifests.KUSTOMIZATIONS)
@pytest.mark.parametrize("version", VERSIONS)
def test_renders_and_validates_strictly(name: str, version: str) -> None:
    resources = manifests.render(name)
    assert resources, f"{name} renders nothing"
    problems = []
    for resource in resources:
        try:
            problem = validate(resource, version)
        except SchemaNotFoundError:
            assert (resource["apiVersion"], resource["kind"]) in OPERATOR_KINDS, (
                f"no schema for {resource['apiVersion']} {resource['kind']} in Kubernetes {version}"
            )
            continue
        if problem:
            problems.append(problem)
    assert problems == []


def test_strict_validation_does_reject_an_unknown_field() -> None:
    deployment = copy.deepcopy(manifests.one(manifests.render("base"), "Deployment", manifests.PREDICTOR))
    assert validate(deployment, VERSIONS[0]) is None
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    assert validate(deployment, VERSIONS[0]) is not None


@pytest.mark.parametrize("name", ["base", "dev", "prod", "many-models"])
def test_the_predictor_set_is_complete(name: str) -> None:
    resources = manifests.render(name)
    kinds = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for kind, resource_name in [
        ("ServiceAccount", "aliasserve"),
        ("Deployment", manifests.PREDICTOR),
        ("Service", manifests.PREDICTOR),
        ("HorizontalPodAutoscaler", manifests.PREDICTOR),
        ("CronJob", manifests.DRIFT),
    ]:
        assert (kind, resource_name) in kinds, f"{name} lacks {kind}/{resource_name}"
    assert manifests.one(resources, "ConfigMap", manifests.CONFIG)


@pytest.mark.parametrize("name", ["dev", "prod", "many-models", "mlflow-server"])
def test_overlays_put_everything_in_one_namespace(name: str) -> None:
    resources = manifests.render(name)
    declared = [r["metadata"]["name"] for r in resources if r["kind"] == "Namespace"]
    used = {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"}
    assert len(used) == 1, used
    assert None not in used, "a resource without namespace would land in the current context's"
    assert declared in ([], list(used))
