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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from service.batch_jobs import Job, settle
from service.columns import stacked

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


class SharedTurn:
    """The lone rows offered in this turn of the loop, by any served model; one per app."""

    def __init__(self) -> None:
        self._jobs: list[tuple[Batcher, Job, RowForm]] = []
        self._scheduled = False

    def offer(self, batcher: Batcher, job: Job, loop: asyncio.AbstractEventLoop) -> bool:
        """Take the job for the next turn's shared call; False when it is not a lone row of a `RowForm`."""
        form = job.model.row_form
        if form is None or job.n_rows != 1 or job.method != "predict" or job.params or job.pyfunc is not None:
            return False
        self._jobs.append((batcher, job, form))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run)
        return True

    def _run(self) -> None:
        jobs, self._jobs, self._scheduled = self._jobs, [], False
        by_width: dict[int, list[tuple[Batcher, Job, RowForm]]] = {}
        for entry in jobs:
            if not entry[1].future.done():  # timed out, or its client went away
                by_width.setdefault(entry[2].width, []).append(entry)
        for entries in by_width.values():
            if len(entries) == 1 or not _shared_call(entries):
                for batcher, job, _ in entries:
                    batcher._run_group([job], settle)


def _shared_call(entries: list[tuple[Batcher, Job, RowForm]]) -> bool:
    """Score the rows in one product and answer each; False (nothing answered) when a row is not finite."""
    started = time.perf_counter()
    rows = np.concatenate([stacked(job.columns) for _, job, _ in entries])
    if not np.isfinite(rows).all():
        return False
    weights = np.stack([form.weights for _, _, form in entries])
    scores = np.einsum("ij,ij->i", rows, weights).tolist()
    elapsed = time.perf_counter() - started
    rows_of: dict[int, list[Any]] = {}
    for (_, job, form), score in zip(entries, scores, strict=True):
        first = 1 if score + form.bias > 0 else 0
        if not job.future.done():
            job.future.set_result(form.classes[first : first + 1].copy())
        rows_of.setdefault(id(job.model), [job.model, 0])[1] += 1
    calls = entries[0][0].metrics.calls
    for model, n in rows_of.values():  # one call of n rows for each model in it
        calls.of(model.name, model.version).add(elapsed, n)
    return True
