"""Routes the request middleware calls itself, past the router (`service/middleware.py`).

A route marked `direct` (`service/routes/scoring.py`, `DirectRoute`) skips Starlette's exception
middleware, FastAPI's exit stacks and its router's matching: about a third of the CPU of a one-row
prediction (`bench/profile.md`). Its path may have parameters (`/invocations/{name}`): the middleware then
sets `path_params` and `route` in the scope, as the router would.

A path goes to a direct route only where the router would send it there: the routes are read in the
router's order, and the first one whose path matches and that takes the method claims the path. A route
that cannot be read that way (a mount, a prefix added at inclusion with no route of its own, anything but
a plain route) may claim any path, so no route after it is called directly. The decision is remembered per
(method, path): the names of the served models are few, and unknown paths beyond `MAX_REMEMBERED` are
decided again on each request rather than remembered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path
from starlette.types import Receive, Scope, Send

MAX_REMEMBERED = 4096
"""Decisions remembered by (method, path); past this a path is matched on each request (a few µs)."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A route as the router tries it: its full path's pattern, its methods, and whether it is direct."""

    route: Route
    regex: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str]
    direct: bool


@dataclass(frozen=True, slots=True)
class DirectMatch:
    route: Route
    path_params: dict[str, Any]


class DirectRoutes:
    """The direct route (and its path parameters) a request's method and path go to, if any."""

    def __init__(self, routes: list[Any]) -> None:
        self._candidates = _candidates(routes)
        self._remembered: dict[tuple[str, str], DirectMatch | None] = {}
        self.any = any(candidate.direct for candidate in self._candidates)
        """False when no route is direct: the middleware leaves every request to the router."""

    def find(self, method: str, path: str) -> DirectMatch | None:
        key = (method, path)
        try:
            return self._remembered[key]
        except KeyError:
            pass
        found = self._match(method, path)
        if len(self._remembered) < MAX_REMEMBERED:
            self._remembered[key] = found
        return found

    def _match(self, method: str, path: str) -> DirectMatch | None:
        for candidate in self._candidates:
            matched = candidate.regex.match(path)
            if matched is None or method not in candidate.methods:
                continue  # the router goes on too (a method mismatch is only a partial match)
            if not candidate.direct:
                return None
            params = {name: candidate.convertors[name].convert(value) for name, value in matched.groupdict().items()}
            return DirectMatch(candidate.route, params)
        return None


def _candidates(routes: list[Any]) -> list[_Candidate]:
    """The routes up to the first one that could claim any path (see the module's docstring)."""
    found: list[_Candidate] = []
    for route, path in _flattened(routes):
        if not isinstance(route, Route) or not route.methods:
            break
        regex, _, convertors = compile_path(path)
        direct = getattr(route, "direct", False) and path == route.path  # a prefix added at inclusion: the router's
        found.append(_Candidate(route, regex, convertors, frozenset(route.methods), direct))
    return found


def _flattened(routes: list[Any]) -> Iterator[tuple[Any, str]]:
    """(route, path it answers) in the router's order; FastAPI's included routers opened up."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route, str(getattr(route, "path", "{}"))
            continue
        for context in contexts():
            original = context.original_route
            yield original, str(context.path or getattr(original, "path", "{}"))


async def call_direct(match: DirectMatch, scope: Scope, receive: Receive, send: Send) -> Response:
    """The endpoint's response to the request, or the app's handler's to the exception it raised (an exception
    no handler takes is raised). Sending it is the caller's (`service/middleware.py`)."""
    route = match.route
    scope["route"] = route
    scope["endpoint"] = route.endpoint
    scope["path_params"] = dict(match.path_params)  # the endpoint's own copy, as the router hands out
    request = Request(scope, receive, send)
    try:
        response: Response = await route.endpoint(request)
    except Exception as exc:
        handler = next((h for c in type(exc).__mro__ if (h := scope["app"].exception_handlers.get(c))), None)
        if handler is None:
            raise
        response = await handler(request, exc)
        exc.__traceback__ = None
    return response
