"""Lone rows of binary linear classifiers share one call across models (service/shared_calls.py).

In process: real `Batcher`s on a real event loop, logistic regressions fitted on the breast-cancer data with
different rows and penalties (so their weights, and some of their labels, differ), served on their affine map
as the service serves them (`linear_model`). Every answer is held to the fitted estimator's own `predict`.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from service.batch_jobs import Job
from service.batching import Batcher
from service.columns import MatrixColumns
from service.errors import ClientError
from service.linear_form import fold, linear_model
from service.loaded_model import LoadedModel, ModelVersion
from service.metrics import Metrics
from service.shared_calls import SharedTurn

X, Y = load_breast_cancer(return_X_y=True)
NAMES = [f"f{i}" for i in range(X.shape[1])]


def _served(name: str, estimator: Any, x: np.ndarray, y: np.ndarray) -> tuple[LoadedModel, Any]:
    estimator.fit(x, y)
    native = LoadedModel(
        meta=ModelVersion(name, "1", None, f"models:/{name}/1"),
        flavor="sklearn",
        schema=None,
        signature=None,
        predict_frame=lambda data, _params: estimator.predict(data),
        proba_frame=None,
        classes=list(estimator.classes_),
        input_example=None,
        local_dir=Path("."),
        array_input=True,
        estimator=estimator,
    )
    affine = fold(estimator, x.shape[1])
    assert affine is not None
    return linear_model(native, affine, refuse_infinite=True, refuse_nan=True), estimator


def _models(count: int) -> list[tuple[LoadedModel, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the small penalties: not under test
        return [
            _served(
                f"m{i}",
                make_pipeline(StandardScaler(), LogisticRegression(C=0.01 * 10**i, max_iter=3000)),
                X[i * 40 : i * 40 + 300],
                Y[i * 40 : i * 40 + 300],
            )
            for i in range(count)
        ]


def _job(model: LoadedModel, row: np.ndarray, method: str = "predict") -> Job:
    columns = MatrixColumns(NAMES[: len(row)], np.ascontiguousarray(row.reshape(-1, 1)))
    return Job(model, columns, 1, method, None, asyncio.get_running_loop().create_future())


async def _turn(offers: list[tuple[Batcher, Job]], shared: SharedTurn) -> list[bool]:
    taken = [shared.offer(batcher, job, asyncio.get_running_loop()) for batcher, job in offers]
    await asyncio.gather(*(job.future for _, job in offers), return_exceptions=True)
    return taken


def test_rows_of_many_models_in_one_turn_are_answered_as_each_model_would() -> None:
    metrics = Metrics(CollectorRegistry())
    shared = SharedTurn()
    served = _models(5)

    async def scenario() -> None:
        batchers = [Batcher(metrics, model=m.name, shared=shared) for m, _ in served]
        rng = np.random.default_rng(7)
        picks = [(int(rng.integers(5)), int(rng.integers(len(X)))) for _ in range(120)]
        offers = [(batchers[m], _job(served[m][0], X[r])) for m, r in picks]
        assert all(await _turn(offers, shared))
        for (m, r), (_, job) in zip(picks, offers, strict=True):
            assert job.future.result().tolist() == served[m][1].predict(X[r : r + 1]).tolist()
        labels = {tuple(est.predict(X).tolist()) for _, est in served}
        assert len(labels) > 1  # the models do disagree somewhere: a row scored by the wrong weights would show
        for i, (model, _) in enumerate(served):  # one shared call, with each model's rows in it
            rows = sum(1 for m, _ in picks if m == i)
            read = metrics.registry.get_sample_value
            assert read("model_batch_rows_count", {"model": model.name}) == 1
            assert read("model_predictions_total", {"model": model.name, "version": "1"}) == rows

    asyncio.run(scenario())


def test_a_row_that_is_not_finite_sends_its_turn_down_each_models_own_path() -> None:
    shared = SharedTurn()
    served = _models(2)

    async def scenario() -> None:
        batchers = [Batcher(Metrics(CollectorRegistry()), model=m.name, shared=shared) for m, _ in served]
        bad = X[3].copy()
        bad[5] = np.nan
        offers = [(batchers[0], _job(served[0][0], X[0])), (batchers[1], _job(served[1][0], bad))]
        offers.append((batchers[1], _job(served[1][0], X[1])))
        await _turn(offers, shared)
        assert offers[0][1].future.result().tolist() == served[0][1].predict(X[:1]).tolist()
        assert offers[2][1].future.result().tolist() == served[1][1].predict(X[1:2]).tolist()
        error = offers[1][1].future.exception()
        assert isinstance(error, ClientError)
        assert error.status == 400
        assert "Input X contains NaN" in str(error)

    asyncio.run(scenario())


def test_what_cannot_share_a_call_is_not_taken_and_a_lone_width_takes_its_own_path() -> None:
    shared = SharedTurn()
    ((cancer, estimator),) = _models(1)
    narrow, narrow_estimator = _served("narrow", LogisticRegression(max_iter=3000), X[:, :4], Y)
    iris_x, iris_y = load_iris(return_X_y=True)
    multiclass, _ = _served("iris", LogisticRegression(max_iter=3000), iris_x, iris_y)
    assert multiclass.row_form is None  # three classes: not a binary rule

    async def scenario() -> None:
        batcher = Batcher(Metrics(CollectorRegistry()), shared=shared)
        loop = asyncio.get_running_loop()
        assert not shared.offer(batcher, _job(cancer, X[0], "predict_proba"), loop)
        assert not shared.offer(batcher, _job(multiclass, iris_x[0]), loop)
        two_rows = Job(
            cancer, MatrixColumns(NAMES, np.ascontiguousarray(X[:2].T)), 2, "predict", None, loop.create_future()
        )
        assert not shared.offer(batcher, two_rows, loop)
        offers = [(batcher, _job(cancer, X[9])), (batcher, _job(cancer, X[10])), (batcher, _job(narrow, X[11, :4]))]
        assert all(await _turn(offers, shared))
        assert offers[0][1].future.result().tolist() == estimator.predict(X[9:10]).tolist()
        assert offers[1][1].future.result().tolist() == estimator.predict(X[10:11]).tolist()
        assert offers[2][1].future.result().tolist() == narrow_estimator.predict(X[11:12, :4]).tolist()

    asyncio.run(scenario())


@pytest.mark.parametrize("count", [2, 30])
def test_a_timed_out_request_is_not_answered_and_the_others_are(count: int) -> None:
    shared = SharedTurn()
    ((model, estimator),) = _models(1)

    async def scenario() -> None:
        batcher = Batcher(Metrics(CollectorRegistry()), shared=shared)
        offers = [(batcher, _job(model, X[i])) for i in range(count)]
        for _, job in offers:
            shared.offer(batcher, job, asyncio.get_running_loop())
        offers[0][1].future.cancel()  # its client went away before the turn ran
        await asyncio.gather(*(job.future for _, job in offers[1:]))
        for i, (_, job) in enumerate(offers[1:], start=1):
            assert job.future.result().tolist() == estimator.predict(X[i : i + 1]).tolist()

    asyncio.run(scenario())
