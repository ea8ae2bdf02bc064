"""The data plane: from a parsed table to predictions, knowing nothing of HTTP or wire formats."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from service.batching import Batcher
from service.capture import CapturedBatch, CaptureWriter
from service.errors import ClientError, NotReadyError, too_large
from service.loaded_model import LoadedModel
from service.middleware import RequestIds
from service.model_manager import ModelManager
from service.pyfunc_input import PyfuncRequest, capturable
from service.shadow import Shadow, ShadowJob
from service.table import RawTable

log = logging.getLogger(__name__)

# Above this many rows the signature check runs in a thread, so one big request cannot stall the loop.
_CHECK_IN_THREAD_ROWS = 512


@dataclass
class Prediction:
    model: LoadedModel
    output: Any
    classes: list[Any] | None
    ignored_columns: list[str]
    unwrapped: bool = False
    """Answered in MLflow's unwrapped LLM format (no `predictions` key)."""


class Predictor:
    def __init__(
        self,
        manager: ModelManager,
        batcher: Batcher,
        capture: CaptureWriter | None,
        max_rows: int,
        timeout_s: float,
        sample_rate: float = 1.0,
        shadow: Shadow | None = None,
    ) -> None:
        self.manager = manager
        self.batcher = batcher
        batcher.abandon_after_s = timeout_s  # a call that outlives every request waiting on it is abandoned
        self.capture = capture
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self.sample_rate = sample_rate
        self.shadow = shadow
        """Scores sampled requests with the shadow version too, after they were answered (service/shadow.py)."""
        self._record_failing = False

    def model(self, version: str | None = None) -> LoadedModel:
        """The version serving now, or a specific one still in memory; NotReadyError if none."""
        current = self.manager.current
        if current is None:
            raise NotReadyError(self.manager.not_ready_reason or "no model loaded")
        if version is None or version == current.version:
            return current
        cached = self.manager.cached(version)
        if cached is None:
            raise ClientError(
                f"version {version} of {current.name} is not loaded (serving {current.version})", 404, "NOT_FOUND"
            )
        return cached

    async def predict(
        self,
        table: RawTable,
        request_id: RequestIds,
        method: str = "predict",
        params: dict[str, Any] | None = None,
        version: str | None = None,
    ) -> Prediction:
        if table.n_rows > self.max_rows:
            raise too_large(f"the request has {table.n_rows} rows; at most {self.max_rows} are accepted (MAX_ROWS)")
        model = self.model(version)
        if not model.fast:
            request = PyfuncRequest(_table_frame(model, table), params, unwrapped=False)
            return await self.predict_pyfunc(model, request, request_id)
        if table.n_rows > _CHECK_IN_THREAD_ROWS:
            columns, ignored = await asyncio.to_thread(model.check, table)
        else:
            columns, ignored = model.check(table)
        n_rows = len(next(iter(columns.values()))) if columns else table.n_rows
        pyfunc_params = params if model.flavor != "sklearn" else None
        future = self.batcher.submit(model, columns, n_rows, method, pyfunc_params)
        output = await self._settled(future)
        classes = model.classes if method == "predict_proba" else None
        # Once the answer is written (the rest of this task's step sends it): the client does not wait for it.
        asyncio.get_running_loop().call_soon(
            self._record_after,
            partial(self._record, model, columns, n_rows, request_id, output, classes, method),
            n_rows,
        )
        return Prediction(model, output, classes, ignored)

    async def predict_pyfunc(self, model: LoadedModel, request: PyfuncRequest, request_id: RequestIds) -> Prediction:
        """A request parsed by MLflow's input handling, scored as `mlflow models serve` scores it."""
        n_rows = request.n_rows
        if n_rows is not None and n_rows > self.max_rows:
            raise too_large(f"the request has {n_rows} rows; at most {self.max_rows} are accepted (MAX_ROWS)")
        output = await self._settled(self.batcher.submit_pyfunc(model, request, n_rows or 1))
        columns = capturable(request, output)
        if columns is not None:
            self._record(model, columns, len(request.data), request_id, output, None, pyfunc=request)
        return Prediction(model, output, None, [], request.unwrapped)

    async def _settled(self, future: asyncio.Future[Any]) -> Any:
        """The call's output, within `timeout_s`. A call the batcher made inline is done already: no timer."""
        if future.done():
            return future.result()
        timer = asyncio.get_running_loop().call_later(self.timeout_s, self._expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, future: asyncio.Future[Any]) -> None:
        """A plain timer rather than `asyncio.wait_for`, which costs a task per request."""
        if not future.done():
            future.set_exception(
                ClientError(
                    f"prediction took longer than {self.timeout_s:g}s (REQUEST_TIMEOUT_S)", 504, "DEADLINE_EXCEEDED"
                )
            )

    def _record_after(self, record: Callable[[], None], n_rows: int) -> None:
        """`record` (a bound `_record`) after the answer went out: a failure is counted as dropped rows and
        logged once a spell."""
        try:
            record()
        except Exception as exc:
            if self.capture is not None:
                self.capture.metrics.capture_dropped.inc(n_rows)
            if not self._record_failing:
                log.error("capture: a request's rows could not be recorded: %s: %s", type(exc).__name__, exc)
            self._record_failing = True
            return
        if self._record_failing:
            log.info("capture: requests' rows are recorded again")
        self._record_failing = False

    def _record(
        self,
        model: LoadedModel,
        columns: Any,
        n_rows: int,
        request_id: RequestIds,
        output: Any,
        classes: list[Any] | None,
        method: str = "predict",
        pyfunc: PyfuncRequest | None = None,
    ) -> None:
        """Offer the rows as the model saw them, with who answered and what, to the capture: through the shadow
        when this request is shadowed (it offers them once it scored them), else directly."""
        captured = self.capture is not None and (self.sample_rate >= 1.0 or random.random() < self.sample_rate)  # noqa: S311
        shadow = self.shadow.job_for(model) if self.shadow is not None else None  # shadow scoring (issue 18)
        if not captured and shadow is None:
            return
        batch = self._captured(model, columns, n_rows, request_id, output, classes) if captured else None
        if shadow is not None and self.shadow is not None:
            self.shadow.offer(ShadowJob(shadow, model, method, n_rows, output, columns, pyfunc, batch))
        elif batch is not None and self.capture is not None:
            self.capture.offer(batch)

    @staticmethod
    def _captured(
        model: LoadedModel,
        columns: Any,
        n_rows: int,
        request_id: RequestIds,
        output: Any,
        classes: list[Any] | None,
    ) -> CapturedBatch:
        labels, probabilities = output, None
        if classes is not None:
            probabilities = np.asarray(output)
            labels = np.asarray(classes)[np.argmax(probabilities, axis=1)]
        return CapturedBatch(
            model.name,
            model.version,
            columns,
            n_rows,
            request_id.client,
            time.time(),
            labels,
            server_request_id=request_id.server,
            run_id=model.meta.run_id,
            runtime=model.runtime,
            probabilities=probabilities,
            classes=classes,
        )


def _table_frame(model: LoadedModel, table: RawTable) -> pd.DataFrame:
    """A parsed table as the DataFrame MLflow's enforcement takes; positional rows named by the signature."""
    if table.rows is None:
        return pd.DataFrame({name: list(values) for name, values in table.columns.items()})
    schema = model.model_meta.get_input_schema() if model.model_meta is not None else None
    names = schema.input_names() if schema is not None and schema.has_input_names() else None
    if names is not None and table.rows and len(names) == len(table.rows[0]):
        return pd.DataFrame(table.rows, columns=names)
    return pd.DataFrame(table.rows)
