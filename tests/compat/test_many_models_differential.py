"""MLflow's own scoring cases (tests/compat/cases.py) sent to `/invocations/{name}` of one predictor serving
three of the zoo's models at once, against `mlflow models serve` on each model alone.

A representative subset: the models without a signature, with named columns and with a tensor signature
(40 cases: every wire format, MLflow's malformed-input and content-type answers). Serving several models
must change nothing of what a client of one model sees but the route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.compat.cases import CASES
from tests.compat.conftest import ServerPool
from tests.processes import RunningService, serving

MODELS = ("sk_no_signature", "sk_named", "sk_tensor")
SUBSET = [case_id for case_id, case in CASES.items() if case.model in MODELS]


@pytest.fixture(scope="module")
def several(zoo: ServerPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    uris = ",".join(f"models:/{zoo.name(key)}@Production" for key in MODELS)
    env = {**zoo.service_env(zoo.name(MODELS[0])), "MODEL_URI": uris}
    with serving(env, tmp_path_factory.mktemp("compat-several")) as service:
        yield service


def _post(url: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=120)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def test_the_subset_covers_each_model_and_both_outcomes() -> None:
    assert {CASES[c].model for c in SUBSET} == set(MODELS)
    assert {CASES[c].status == 200 for c in SUBSET} == {True, False}


@pytest.mark.parametrize("case_id", SUBSET)
def test_same_answer_by_name_as_mlflow_models_serve_on_the_model_alone(
    case_id: str, zoo: ServerPool, several: RunningService
) -> None:
    case = CASES[case_id]
    theirs = _post(f"{zoo.get(case.model).theirs.url}/invocations", case.body, case.content_type)
    ours = _post(f"{several.url}/invocations/{zoo.name(case.model)}", case.body, case.content_type)
    assert theirs.status_code == case.status, f"mlflow models serve answered {theirs.status_code}: {theirs.text[:500]}"
    assert ours.status_code == theirs.status_code, f"ours: {ours.text[:500]}\ntheirs: {theirs.text[:500]}"
    mine, their_body = ours.json(), _json_or_none(theirs)
    if theirs.status_code == 200:
        assert json.dumps(mine, sort_keys=True) == json.dumps(their_body, sort_keys=True)
        assert ours.headers["x-model-name"] == zoo.name(case.model)
    else:
        assert set(mine) == {"error_code", "message"}, mine
        if their_body is not None:
            assert mine["error_code"] == their_body["error_code"], f"ours: {mine}\ntheirs: {their_body}"
