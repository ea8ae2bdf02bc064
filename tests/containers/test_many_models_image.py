"""The real image in many-models mode: the predictor Deployment of `k8s/overlays/many-models`, run as
rendered (tests/containers/kubelet.py) against the example MLflow server in a container, serves every
model tagged `serve=true` at `Production`; with `SHADOW_ALIAS` added to its ConfigMap (as a user adds it
to the overlay's configMapGenerator), a shadowed request's capture row names the shadow's version.

Runs under `.ci/with-docker` (CI); skips loudly elsewhere (tests/containers/engine.py).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.containers import kubelet
from tests.containers.engine import IMAGE
from tests.containers.stack import BUCKET, Stack
from tests.deploy import manifests
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(900)  # the first container test of a session also sets up the stack


@dataclass(frozen=True)
class Selected:
    """Two models registered through the example server by a Job, tagged as the overlay selects."""

    names: tuple[str, str]
    body: bytes
    challenger: str
    """The version aliased `Challenger` on the second model (its Production is version 1)."""
    tagged: frozenset[str]
    """Every model tagged `serve=true` after registering them (the seeded `demo` is not)."""


_REGISTER = """
import json, sys
from mlflow import MlflowClient
from training.data import load_demo_frame
from training.train import train_and_register

frame, names, client = load_demo_frame(), sys.argv[1:], MlflowClient()
for name in names:
    train_and_register(name, frame, "target", alias="Production")
    client.set_registered_model_tag(name, "serve", "true")
challenger = train_and_register(names[1], frame, "target", alias="Challenger").version
tagged = sorted(m.name for m in client.search_registered_models("tags.serve = 'true'"))
print(json.dumps({"challenger": str(challenger), "tagged": tagged}))
"""
"""Run in a Job from the image, as `seed-demo` is: the example server accepts only its Service's names
(and localhost) as Host, so the test's own process cannot write to it."""


@pytest.fixture(scope="module")
def selected(stack: Stack) -> Selected:
    from training.data import load_demo_frame

    names = (f"many-a-{uuid.uuid4().hex[:6]}", f"many-b-{uuid.uuid4().hex[:6]}")
    result = stack.job("register-many", "python", "-c", _REGISTER, *names).result
    rows = load_demo_frame().drop(columns="target").head(4)
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
    return Selected(names, body, result["challenger"], frozenset(result["tagged"]))


def _many_models_pod(stack: Stack, suffix: str, config: dict[str, str], capture_prefix: str) -> kubelet.Pod:
    """The many-models overlay's predictor Deployment, its ConfigMap merged with `config`, capturing under
    `capture_prefix` of the stack's bucket (apart from the prod tests' rows)."""
    resources = copy.deepcopy(manifests.render("many-models"))
    manifests.one(resources, "ConfigMap", manifests.CONFIG)["data"].update(config)
    secrets = copy.deepcopy(stack.secrets)
    secrets["aliasserve-secrets"]["capture-uri"] = f"s3://{BUCKET}/{capture_prefix}"
    deployment = manifests.one(resources, "Deployment", manifests.PREDICTOR)
    name = stack.engine.name(suffix)
    return kubelet.start(
        stack.engine, stack.network, resources, deployment, name, secrets=secrets, image=IMAGE, hosts=stack.hosts
    )


def _post(pod: kubelet.Pod, name: str, body: bytes, request_id: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", **({"X-Request-ID": request_id} if request_id else {})}
    return httpx.post(f"{pod.url()}/invocations/{name}", content=body, headers=headers, timeout=60)


def test_the_overlay_serves_every_tagged_model_by_name(stack: Stack, selected: Selected) -> None:
    pod = _many_models_pod(stack, "many-models", {}, "capture-many/")
    pod.wait_ready()  # the Deployment's own probes
    assert set(selected.names) <= selected.tagged

    for name in selected.names:
        answer = _post(pod, name, selected.body)
        assert answer.status_code == 200, answer.text
        assert (answer.headers["x-model-name"], answer.headers["x-model-version"]) == (name, "1")
        assert len(answer.json()["predictions"]) == 4
    described = httpx.get(f"{pod.url()}/model", timeout=10).json()
    assert {
        m["name"] for m in described["models"]
    } == selected.tagged  # every tagged model, the seeded untagged demo not
    plain = httpx.post(f"{pod.url()}/invocations", content=selected.body, headers={"Content-Type": "application/json"})
    assert plain.status_code == 400
    assert all(name in plain.json()["message"] for name in selected.names)
    assert _post(pod, "demo", selected.body).status_code == 404
    assert pod.delete() == 0, stack.engine.logs(pod.name)[-3000:]


def test_the_overlay_with_shadow_alias_captures_the_shadow_version(stack: Stack, selected: Selected) -> None:
    prefix = f"capture-shadow-{uuid.uuid4().hex[:6]}/"
    # The capture files are flushed every second, not at the overlay's 60 s: the rows are read while it serves.
    config = {"SHADOW_ALIAS": "Challenger", "CAPTURE_FLUSH_INTERVAL_S": "1"}
    pod = _many_models_pod(stack, "many-models-shadow", config, prefix)
    pod.wait_ready()
    shadowed = selected.names[1]
    wait_until(
        lambda: _shadow_of(pod, shadowed).get("version") == selected.challenger,
        timeout=300,
        what="the Challenger loaded as the shadow",
    )
    assert _shadow_of(pod, selected.names[0])["version"] is None  # no Challenger on the first model

    request_ids = [f"shadow-{uuid.uuid4().hex}" for _ in range(5)]
    answers = [_post(pod, shadowed, selected.body, request_id) for request_id in request_ids]
    assert [(a.status_code, a.headers["x-model-version"]) for a in answers] == [(200, "1")] * 5
    plain = _post(pod, selected.names[0], selected.body, "unshadowed")
    assert plain.status_code == 200

    rows = wait_until(
        lambda: _captured(stack, f"{prefix}model={shadowed}/", request_ids),
        timeout=300,
        interval=2,
        what="the shadowed rows in the capture store",
    )
    assert {row["_model_version"] for row in rows} == {"1"}
    assert {row["_shadow_version"] for row in rows} == {selected.challenger}
    assert all(pd.isna(row["_shadow_error"]) for row in rows)
    assert pod.delete() == 0, stack.engine.logs(pod.name)[-3000:]
    unshadowed = _captured_rows(stack, f"{prefix}model={selected.names[0]}/")
    assert all(pd.isna(row["_shadow_version"]) for row in unshadowed)


def _shadow_of(pod: kubelet.Pod, name: str) -> dict[str, Any]:
    models = {m["name"]: m for m in httpx.get(f"{pod.url()}/model", timeout=10).json()["models"]}
    shadow: dict[str, Any] = models[name]["shadow"] or {}
    return shadow


def _captured_rows(stack: Stack, prefix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in stack.s3.keys(prefix):
        rows += stack.s3.frame(key).to_dict(orient="records")
    return rows


def _captured(stack: Stack, prefix: str, request_ids: list[str]) -> list[dict[str, Any]] | None:
    """Every row of `request_ids` once they are all in the store (4 rows a request), else None."""
    rows = [row for row in _captured_rows(stack, prefix) if row["_request_id"] in request_ids]
    return rows if {row["_request_id"] for row in rows} == set(request_ids) else None
