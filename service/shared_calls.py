"""One model call, across models, for the lone rows of binary linear classifiers received in one turn.

Spread over many models, each request is usually alone for its model: it cannot share a call, as one
model's concurrent requests do (four or more to a call at 64 connections), and pays a whole call's fixed
work: ~28 µs of CPU a request over 100 models against ~5 over one (bench/many-profile.md). When the model
is a binary linear classifier served on its affine map (`service/linear_form.py`, `RowForm`), the call is
one dot product, and the rows of different models can share one: the cheap one-row `predict` requests
gathered in a turn of the loop (`Batcher._gather`), whatever model they are for, are scored in the next
turn by one numpy product, each row against its own model's weights, and each answered with its own
model's label by `LinearClassifierMixin.predict`'s rule (class 1 where the score is > 0).

Everything else takes its batcher's own path (`Batcher._run_group`), as it did: another form, several rows,
`predict_proba`, a lone row of its width in the turn, and rows holding NaN or an infinity (refused there with
the model's own message). Each model's metrics count the shared call once, with its rows in it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from service.batch_jobs import Job, settle
from service.columns import MatrixColumns

if TYPE_CHECKING:
    from service.batching import Batcher


@dataclass(frozen=True)
class RowForm:
    """A binary linear classifier as a row sees it: `classes[1]` where `row · weights + bias > 0`."""

    width: int
    weights: np.ndarray
    """(width,), float64."""
    bias: float
    classes: np.ndarray
    answers: tuple[np.ndarray, np.ndarray] = field(init=False)
    """`classes[0:1]` and `classes[1:2]`, read-only: a lone row's answer, handed out without a copy each."""

    def __post_init__(self) -> None:
        answers = (self.classes[0:1].copy(), self.classes[1:2].copy())
        for answer in answers:
            answer.flags.writeable = False
        object.__setattr__(self, "answers", answers)


Entry = tuple["Batcher", Job, RowForm, np.ndarray]
"""A job offered: its batcher, the job, its model's form, and its row as a (width, 1) block."""


class SharedTurn:
    """The lone rows offered in this turn of the loop, by any served model; one per app."""

    def __init__(self) -> None:
        self._jobs: list[Entry] = []
        self._scheduled = False

    def offer(self, batcher: Batcher, job: Job, loop: asyncio.AbstractEventLoop) -> bool:
        """Take the job for the next turn's shared call; False when it is not a lone row of a `RowForm`."""
        form = job.model.row_form
        if form is None or job.n_rows != 1 or job.method != "predict" or job.params or job.pyfunc is not None:
            return False
        columns = job.columns
        if not isinstance(columns, MatrixColumns):  # the all-double check's block: what lone rows of these have
            return False
        self._jobs.append((batcher, job, form, columns.matrix))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run)
        return True

    def _run(self) -> None:
        jobs, self._jobs, self._scheduled = self._jobs, [], False
        by_width: dict[int, list[Entry]] = {}
        for entry in jobs:
            if not entry[1].future.done():  # timed out, or its client went away
                by_width.setdefault(entry[2].width, []).append(entry)
        for entries in by_width.values():
            if len(entries) == 1 or not _shared_call(entries):
                for batcher, job, _, _ in entries:
                    batcher._run_group([job], settle)


def _shared_call(entries: list[Entry]) -> bool:
    """Score the rows in one product and answer each; False (nothing answered) when a row is not finite."""
    started = time.perf_counter()
    columns = np.concatenate([matrix for *_, matrix in entries], axis=1)  # (width, rows)
    if not np.isfinite(columns).all():
        return False
    weights = np.stack([form.weights for _, _, form, _ in entries])  # (rows, width)
    scores = np.einsum("ji,ij->i", columns, weights).tolist()
    elapsed = time.perf_counter() - started
    rows_of: dict[int, list[Any]] = {}  # id of the version: [the version, its rows in this call]
    for (_, job, form, _), score in zip(entries, scores, strict=True):
        future = job.future
        if not future.done():
            future.set_result(form.answers[score + form.bias > 0])
        model = job.model
        if (counted := rows_of.get(id(model))) is None:
            rows_of[id(model)] = [model, 1]
        else:
            counted[1] += 1
    calls = entries[0][0].metrics.calls
    for model, n in rows_of.values():  # one call of n rows for each model in it
        calls.of(model.meta.name, model.meta.version).add(elapsed, n)
    return True
