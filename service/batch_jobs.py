"""What the batcher queues (a `Job` per request) and how requests share one model call: grouped, merged,
and each handed its own result or error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.columns import Columns, MatrixColumns, matrix_of
from service.loaded_model import LoadedModel
from service.pyfunc_input import PyfuncRequest

Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]
"""A request's future with its result or its error."""


@dataclass
class Job:
    model: LoadedModel
    columns: Columns
    n_rows: int
    method: str
    params: dict[str, Any] | None
    future: asyncio.Future[Any] = field(repr=False)
    pyfunc: PyfuncRequest | None = None
    """A request in MLflow's input handling: scored alone with `LoadedModel.predict_pyfunc`."""


def groups(jobs: list[Job]) -> list[list[Job]]:
    """Jobs that can share a call: same version object, same prediction method, no request params.

    A job in MLflow's input handling shares with no one (its data may be anything).
    """
    found: dict[tuple[int, str, int], list[Job]] = {}
    for job in jobs:
        if job.pyfunc is not None:
            key = (id(job), "pyfunc", 0)
        else:
            key = (id(job.model), job.method, id(job.params) if job.params else 0)
        found.setdefault(key, []).append(job)
    return list(found.values())


def merged(requests: list[Columns]) -> Columns:
    """The requests' columns as one table: their matrices side by side when each has one."""
    blocks = [block for columns in requests if (block := matrix_of(columns)) is not None]
    if len(blocks) == len(requests):
        return MatrixColumns(list(requests[0]), np.concatenate(blocks, axis=1))
    return {name: np.concatenate([columns[name] for columns in requests]) for name in requests[0]}


def settle(outcomes: list[Outcome]) -> None:
    """On the event loop: hand each request its result or error (one wake-up for the whole group)."""
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
