"""Pure ASGI middleware (cheap on the hot path): request ids and the HTTP metrics.

Every request gets two ids. `X-Request-ID` is echoed when the client sent a usable one (SPEC), so a
client can find its own calls; but clients choose it, and two of them may choose the same. So every
response also carries `X-Server-Request-ID`, an id only this server hands out (a UUIDv7: 48 bits of
milliseconds, then random bits). The capture records both; when the client sent none, both are the same.

`RequestContext` is the app's outermost layer (`service/app.py`, `ServiceApp`), outside Starlette's own
middleware. Routes marked `direct` (the scoring routes, `service/routes/scoring.py`) are called from here,
past Starlette's error and exception middleware, FastAPI's exit stacks and the router's matching
(`service/direct_routes.py`). The app's exception handlers still answer their errors, and an error none
answers gets Starlette's plain 500 (then goes on to the server's log), as through the stack.
"""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.direct_routes import DirectMatch, DirectRoutes, call_direct
from service.metrics import Metrics

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


SERVER_ID_HEADER = b"x-server-request-id"


@dataclass(frozen=True, slots=True)
class RequestIds:
    """`client`: the `X-Request-ID` answered (the client's, or `server` when it sent none usable)."""

    client: str
    server: str


class _ServerIds:
    """UUIDv7s (RFC 9562) in 32 hex digits: unique, and ordered by time, so readers can skip files by id.

    The random bits are drawn once per process and a counter runs through them (RFC 9562's monotonic
    method): `os.urandom` per request cost 17 µs here, the costliest line of the middleware. A forked
    child draws its own.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        random_bits = int.from_bytes(os.urandom(10), "big")
        self.head = 0x7 << 76 | (random_bits >> 62 & 0xFFF) << 64 | 0b10 << 62
        self.base = random_bits & (1 << 62) - 1
        self.counter = itertools.count()

    def new(self) -> str:
        millis = time.time_ns() // 1_000_000
        value = (millis & 0xFFFF_FFFF_FFFF) << 80 | self.head | (self.base + next(self.counter)) & (1 << 62) - 1
        return f"{value:032x}"


_server_ids = _ServerIds()


def new_server_id() -> str:
    """A fresh server-unique request id (UUIDv7, 32 hex digits)."""
    return _server_ids.new()


def server_id_millis(text: str) -> int | None:
    """The arrival time (unix ms) encoded in a server id, or None when `text` is not a UUIDv7."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    return parsed.int >> 80 if parsed.version == 7 else None


def request_id_of(scope: Scope) -> RequestIds:
    ids = scope.get("state", {}).get("request_ids")
    return ids if isinstance(ids, RequestIds) else RequestIds("", "")


class RequestContext:
    """Gives every request its ids (the client's `X-Request-ID` when sane, and the server's), answers both,
    and counts the request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        """(requests counter, duration histogram) by (route, method, status): `labels()` takes a lock."""
        self._direct: DirectRoutes | None = None
        """Read from the app's routes on the first request."""
        self._in_flight = 0
        self._gauge_per_request = metrics.multiprocess
        """The gauge reads `_in_flight` when scraped (an inc and a dec, each taking a lock, cost ~2.5 µs a
        request); with several workers it lives in prometheus-client's files, set per request."""
        if not metrics.multiprocess:
            metrics.in_flight.set_function(lambda: self._in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server_id = new_server_id()
        request_id = _client_id(scope) or server_id
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["request_ids"] = RequestIds(request_id, server_id)
        status = 500
        started = time.perf_counter()
        self._in_flight += 1
        if self._gauge_per_request:
            self.metrics.in_flight.inc()
        ids = [(b"x-request-id", request_id.encode()), (SERVER_ID_HEADER, server_id.encode())]

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *ids]
            await send(message)

        try:
            direct = self._direct_match(scope)
            if direct is None and scope["method"] == "HEAD":
                await self._head(scope, receive, send_with_id)
            elif direct is None:
                await self.app(scope, receive, send_with_id)
            else:
                try:
                    response = await call_direct(direct, scope, receive, send)
                except Exception:
                    # What Starlette's `ServerErrorMiddleware` answers; the error goes on to the server's log.
                    response = PlainTextResponse("Internal Server Error", 500)
                    await _send_response(response, ids, scope, receive, send, send_with_id)
                    raise
                status = response.status_code
                await _send_response(response, ids, scope, receive, send, send_with_id)
        finally:
            self._in_flight -= 1
            if self._gauge_per_request:
                self.metrics.in_flight.dec()
            counter, histogram = self._series(_route_template(scope), scope["method"], status)
            counter.inc()
            histogram.observe(time.perf_counter() - started)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HEAD answered as GET (RFC 9110: every general-purpose server supports both): same status and
        headers; the server writes no body for it, as it knows from its own scope's method."""
        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send)
        finally:
            if "route" in as_get:
                scope["route"] = as_get["route"]  # the metrics' route label

    def _direct_match(self, scope: Scope) -> DirectMatch | None:
        if self._direct is None:
            self._direct = DirectRoutes(scope["app"].router.routes if "app" in scope else [])
        if not self._direct.any or scope.get("root_path"):
            return None
        return self._direct.find(scope["method"], scope["path"])

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


async def _send_response(
    response: Response, ids: list[tuple[bytes, bytes]], scope: Scope, receive: Receive, send: Send, send_with_id: Send
) -> None:
    """A plain response's two messages sent as `Response.__call__` sends them, with the ids added; any other
    (streamed, with a background task) through its own `__call__`."""
    if response.background is not None or type(response).__call__ is not Response.__call__:
        await response(scope, receive, send_with_id)
        return
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": [*response.raw_headers, *ids]}
    )
    await send({"type": "http.response.body", "body": response.body})


def _client_id(scope: Scope) -> str | None:
    text = header(scope, b"x-request-id")
    return text if text is not None and _SAFE_ID.match(text) else None


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header `name` (lower case, as ASGI servers give names), or None.

    Read from the scope's list as `Request.headers.get` would answer, without building Starlette's `Headers`
    (a copy of the list, and a lower-casing and encoding of the name per lookup): ~4 µs less for the two a
    prediction reads (bench/profile.md, session 7)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's path template (low cardinality); unmatched paths share one label."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
