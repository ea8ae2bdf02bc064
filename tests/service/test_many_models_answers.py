"""Models of different weights and forms, served together under concurrent one-row traffic, each answering as
MLflow's own pyfunc of that model answers.

The other many-models tests serve versions of one logged model: identical weights, so a row scored with
another model's weights would go unseen. Here a real MLflow server holds seven scikit-learn models, logged
with `mlflow.sklearn.log_model` as a user's own pipeline logs them (a signature and an input example,
nothing else; their affine maps are proven on probe rows, service/check_rows.py):
- four binary logistic regressions on the breast-cancer data (30 columns), fitted on different rows with
  different penalties, one behind a `StandardScaler`;
- a binary and a three-class logistic regression on iris (4 columns);
- a ridge regression on the diabetes data (10 columns).

One predictor serves them all (`MODEL_URI` list). One-row requests reach it in bursts that arrive at once
(`Bursts`): first one row for each model per burst, so lone rows of different models meet in one turn of
the event loop (`service/shared_calls.py` shares their call), then shuffled bursts of 32, where a model's
rows batch in its own batcher. Every answer is held to `mlflow.pyfunc.load_model(uri).predict` of that
row: the reference is MLflow's, not this service's.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from service.loaded_model import ModelVersion
from tests.helpers import tracking_uri_restored
from tests.processes import MlflowServer, RunningService
from tests.service.compiled_models import data_set, log_stock

ROWS_EACH = 40
"""Rows posted to each model, each twice: once in a burst of one row per model, once in shuffled bursts."""
BURST = 32
"""Requests at most in one burst."""


def _fitted() -> dict[str, tuple[Any, pd.DataFrame]]:
    """Each model fitted, with the frame its rows are drawn from."""
    cancer, cancer_y = data_set(load_breast_cancer)
    iris, iris_y = data_set(load_iris)
    diabetes, diabetes_y = data_set(load_diabetes)
    models: dict[str, tuple[Any, pd.DataFrame]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the unscaled fits: not under test
        for i, c in enumerate((0.001, 0.1, 10.0)):
            rows = slice(i * 60, i * 60 + 300)
            models[f"cancer-{i}"] = (LogisticRegression(C=c, max_iter=200).fit(cancer[rows], cancer_y[rows]), cancer)
        scaled = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        models["cancer-scaled"] = (scaled.fit(cancer, cancer_y), cancer)
    models["iris-binary"] = (LogisticRegression(max_iter=2000).fit(iris, iris_y == 2), iris)
    models["iris-three"] = (LogisticRegression(max_iter=2000).fit(iris, iris_y), iris)
    models["diabetes-ridge"] = (Ridge(alpha=0.5).fit(diabetes, diabetes_y), diabetes)
    return models


def _uri(version: ModelVersion) -> str:
    return f"models:/{version.name}@Production"


def _body(row: pd.DataFrame) -> bytes:
    return b'{"dataframe_split": ' + row.to_json(orient="split", index=False).encode() + b"}"


class Bursts:
    """`BURST` keep-alive connections to the service whose requests reach it together: the service is stopped
    (SIGSTOP) while one request is written on each, then continued, so its loop reads them all in one turn
    and their lone rows meet there, as under heavy traffic (a burst sent without the stop arrives one
    request at a time on a quiet machine: nothing would meet)."""

    def __init__(self, service: RunningService) -> None:
        assert service.proc is not None
        self.pid = service.proc.pid
        self.connections = [http.client.HTTPConnection("127.0.0.1", service.port, timeout=60) for _ in range(BURST)]
        for connection in self.connections:  # each accepted, and kept alive, before any stop
            connection.request("GET", "/health/live")
            connection.getresponse().read()

    def post(self, requests: list[tuple[str, bytes]]) -> list[tuple[int, bytes]]:
        """Each (path, body) on its own connection, all written while the service is stopped."""
        headers = {"Content-Type": "application/json"}
        os.kill(self.pid, signal.SIGSTOP)
        try:
            for connection, (path, body) in zip(self.connections, requests, strict=False):
                connection.request("POST", path, body=body, headers=headers)
        finally:
            os.kill(self.pid, signal.SIGCONT)
        answers = []
        for connection in self.connections[: len(requests)]:
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        return answers

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def _rows(models: dict[str, tuple[Any, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The rows posted to each model: per data set, the same rows for all its models, those they disagree on first."""
    rows: dict[str, pd.DataFrame] = {}
    rng = np.random.default_rng(17)
    for frame in {id(frame): frame for _, frame in models.values()}.values():
        names = [name for name, (_, f) in models.items() if f is frame]
        labels = np.stack([np.asarray(models[name][0].predict(frame), dtype=np.float64) for name in names])
        split = np.flatnonzero((labels != labels[0]).any(axis=0))
        rest = rng.permutation(np.setdiff1d(np.arange(len(frame)), split))
        chosen = np.concatenate([split[:ROWS_EACH], rest])[:ROWS_EACH]
        rows.update(dict.fromkeys(names, frame.iloc[chosen]))
    return rows


@pytest.fixture(scope="module")
def registered(mlflow_server: MlflowServer) -> dict[str, tuple[str, pd.DataFrame]]:
    """Each model's served name: (its models:/ URI, the rows posted to it)."""
    suffix = uuid.uuid4().hex[:6]
    models = _fitted()
    rows = _rows(models)
    cancer = rows["cancer-0"]
    disagree = {tuple(models[n][0].predict(cancer).tolist()) for n in models if n.startswith("cancer")}
    assert len(disagree) == 4  # each pair of cancer models disagrees on a posted row: wrong weights would show
    return {
        f"{label}-{suffix}": (_uri(log_stock(mlflow_server.uri, f"{label}-{suffix}", model, frame)), rows[label])
        for label, (model, frame) in models.items()
    }


def test_concurrent_lone_rows_over_models_of_different_weights_get_each_models_own_answer(
    registered: dict[str, tuple[str, pd.DataFrame]],
    mlflow_server: MlflowServer,
    start_service: Callable[..., RunningService],
) -> None:
    uris = ",".join(uri for uri, _ in registered.values())
    service = start_service({"MODEL_URI": uris, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RELOAD_INTERVAL_S": "0"})
    models = httpx.get(f"{service.url}/model", timeout=30).json()["models"]
    assert {entry["runtime"] for entry in models} == {"linear"}  # on their affine maps: binary ones share calls
    rng = random.Random(17)
    lone: list[list[tuple[str, pd.DataFrame]]] = []  # bursts of one row per model: lone rows, shared calls
    for i in range(ROWS_EACH):
        lone.append([(name, rows.iloc[[i]]) for name, (_, rows) in registered.items()])
        rng.shuffle(lone[-1])
    mixed = [(name, rows.iloc[[i]]) for name, (_, rows) in registered.items() for i in range(len(rows))]
    rng.shuffle(mixed)  # then bursts of several rows per model: each model's own batches
    bursts_of = [*lone, *(mixed[start : start + BURST] for start in range(0, len(mixed), BURST))]
    picks = [pick for burst in bursts_of for pick in burst]
    bursts = Bursts(service)
    answered: list[tuple[int, bytes]] = []
    try:
        for burst in bursts_of:
            answered += bursts.post([(f"/invocations/{name}", _body(row)) for name, row in burst])
    finally:
        bursts.close()

    failures = [f"{picks[i][0]}: {status} {body[:200]!r}" for i, (status, body) in enumerate(answered) if status != 200]
    assert failures == []
    answers = [json.loads(body)["predictions"] for _, body in answered]
    with tracking_uri_restored():
        mlflow.set_tracking_uri(mlflow_server.uri)
        reference = {name: mlflow.pyfunc.load_model(uri) for name, (uri, _) in registered.items()}
    for index, (name, row) in enumerate(picks):
        expected = np.asarray(reference[name].predict(row)).tolist()
        got = answers[index]
        if "ridge" in name:
            assert np.allclose(got, expected, rtol=1e-9, atol=1e-9), (name, got, expected)
        else:
            assert got == expected, (name, row.index[0], got, expected)
