"""Pure ASGI middleware (cheap on the hot path): request ids and the HTTP metrics."""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _RequestIds:
    """32 hex digits: a random half drawn once per process, and a counter.

    `uuid.uuid4()` reads the kernel's randomness on every request (17 µs here, the costliest line of the
    middleware); unique ids need it only once per process. A forked child draws its own half.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_ids = _RequestIds()


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class RequestContext:
    """Gives every request an id (the client's `X-Request-ID` when it is sane), echoes it, and counts it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        """(requests counter, duration histogram) by (route, method, status): `labels()` takes a lock."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_id(scope) or _ids.new()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()
        self.metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            counter, histogram = self._series(_route_template(scope), scope["method"], status)
            counter.inc()
            histogram.observe(time.perf_counter() - started)

    def _series(self, route: str, method: str, status: int) -> tuple[Any, Any]:
        key = (route, method, status)
        series = self._children.get(key)
        if series is None:
            series = (
                self.metrics.requests.labels(route, method, str(status)),
                self.metrics.request_duration.labels(route, method),
            )
            if len(self._children) < 1000:  # routes are templates and methods few: this stays small
                self._children[key] = series
        return series


def _client_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's path template (low cardinality); unmatched paths share one label."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
