"""Each of MLflow's scoring cases sent to `mlflow models serve` and to this service, on the same model.

Same status; on an error the same `error_code` (where MLflow answers JSON: its 415s are plain text);
on success the same body. Messages may differ: this service's name the field and the problem.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.compat.cases import CASES
from tests.compat.conftest import ServerPool
from tests.compat.test_many_models_differential import MODELS

ORDER = sorted(CASES, key=lambda case_id: CASES[case_id].model in MODELS)
"""Grouped by model as in CASES, with the models test_many_models_differential.py compares against last: their
pairs are the ones still running when that file starts (`_MAX_PAIRS` in conftest.py)."""


def _post(url: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(f"{url}/invocations", content=body, headers={"Content-Type": content_type}, timeout=120)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@pytest.mark.parametrize("case_id", ORDER)
def test_same_answer_as_mlflow_models_serve(case_id: str, zoo: ServerPool) -> None:
    case = CASES[case_id]
    pair = zoo.get(case.model)
    theirs = _post(pair.theirs.url, case.body, case.content_type)
    ours = _post(pair.ours.url, case.body, case.content_type)
    assert theirs.status_code == case.status, f"mlflow models serve answered {theirs.status_code}: {theirs.text[:500]}"
    assert ours.status_code == theirs.status_code, f"ours: {ours.text[:500]}\ntheirs: {theirs.text[:500]}"
    mine, their_body = ours.json(), _json_or_none(theirs)
    if theirs.status_code == 200:
        # Compared as JSON text, so NaN equals NaN and key order does not matter.
        assert json.dumps(mine, sort_keys=True) == json.dumps(their_body, sort_keys=True)
    else:
        assert set(mine) == {"error_code", "message"}, mine
        if their_body is not None:
            assert mine["error_code"] == their_body["error_code"], f"ours: {mine}\ntheirs: {their_body}"
