"""uvicorn's httptools protocol, with TCP_NODELAY and limits on what a client can hold open.

TCP_NODELAY: with several workers uvicorn hands the listening socket to child processes and, seen on this
kind of machine, small responses then wait for Nagle's algorithm: about 40 ms a request on a kept-alive
connection (uvicorn issue #3149). Setting it on every accepted connection removes that.

Limits the httptools protocol lacks (uvicorn's `h11_*` options do not apply to it):
- the request head (request line and headers) must be complete `header_timeout_s` after the connection
  opened or the previous response was sent, else 408 and close. A connection that sends nothing at all is
  closed silently after uvicorn's keep-alive timeout, as an idle kept-alive one is.
- a head over `max_header_bytes` gets 431 and close. httptools buffers a header value whole before it
  calls back, so the bytes are counted as they arrive. A read that also carries the end of a previous,
  pipelined request counts that too: such a client may be refused a little early.
- while a body is awaited, `body_timeout_s` without a byte gets 408 and close. Pauses the service causes
  (flow control while the app is behind) do not count.
- a response sent before its request's body was read (413, 415, 404 ...) closes the connection at once:
  the rest of the body is never read, whether or not the client honours `Connection: close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

BODY_TIMED_OUT = "body_timed_out"
"""Set (True) in a request's scope state when its body stalled, so the app can tell why it was cut off."""

_ERROR_CODES = {408: "DEADLINE_EXCEEDED", 431: "RESOURCE_LIMIT_EXCEEDED"}


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_header_bytes: int = 65_536


DEFAULT_LIMITS = ConnectionLimits()

_requests: set[Any] | None = None
"""uvicorn's request tasks of this process's server (`ServerState.tasks`), once a connection has come in."""


def requests_in_flight() -> int | None:
    """Requests whose head has arrived and whose answer is not finished, across connections; None when the
    service is not served by `HttpProtocol` (then nothing is known of the other requests)."""
    return None if _requests is None else len(_requests)


def protocol_factory(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """What uvicorn's `http=` takes: uvicorn calls it as it would the class, and a partial pickles, so it
    reaches the worker processes too."""
    return cast("type[asyncio.Protocol]", partial(HttpProtocol, limits=limits))


class _Refused(Exception):
    """Raised in a parser callback after answering, so httptools stops parsing the rest of the data."""


class HttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        global _requests  # one server per process
        _requests = server_state.tasks
        self.limits = limits
        self._phase: Literal["idle", "head", "body"] = "idle"
        self._began = False
        """A request began in the data being parsed."""
        self._feed_bytes = 0
        self._head_bytes = 0
        self._idle_since = 0.0
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._idle_since = self.loop.time()
        # uvicorn arms its keep-alive timer only after a response: a connection that never sends must close too.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, plus the head's size and the head and body deadlines."""
        self._unset_keepalive_if_required()
        self._began = False
        self._feed_bytes = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not isinstance(exc.__context__, _Refused):
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._phase == "head":
            self._head_bytes = len(data) if self._began else self._head_bytes + len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse_head_size()
            elif self._timer is None:
                self._arm(self._idle_since + self.limits.header_timeout_s - self.loop.time(), self._head_timed_out)
        elif self._phase == "body":
            self._last_read = self.loop.time()
            if self._timer is None:
                self._arm(self.limits.body_timeout_s, self._body_check)

    def on_message_begin(self) -> None:
        self._began = True
        self._phase = "head"
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        received = self._feed_bytes + (0 if self._began else self._head_bytes)
        if received > self.limits.max_header_bytes and self._head_size() > self.limits.max_header_bytes:
            self._refuse_head_size()
            raise _Refused
        self._phase = "body"
        self._cancel_timer()
        super().on_headers_complete()
        if self.cycle.scope["method"] != "HEAD":  # uvicorn writes no body for HEAD: nothing to join the head to
            self.cycle.transport = OneWrite(self.transport, self.cycle)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._phase = "idle"
        self._cancel_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        if self._phase == "body" and not self.pipeline:
            self.transport.close()  # answered before its body was read: read no more of it
        super().on_response_complete()
        if self.transport.is_closing():
            return
        self._idle_since = self.loop.time()
        if self._phase == "head":  # the next request began to arrive during the response: its deadline
            self._unset_keepalive_if_required()
            self._cancel_timer()
            self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._phase != "head" or (self.cycle is not None and not self.cycle.response_complete):
            return  # headers done, or a response still under way: re-armed when it completes
        timeout = self.limits.header_timeout_s
        self._refuse(408, f"the request headers were not complete within {timeout:g}s (HEADER_TIMEOUT_S)")

    def _body_check(self) -> None:
        self._timer = None
        if self._phase != "body":
            return
        now = self.loop.time()
        if self.flow.read_paused:  # the service is not reading: no pause of the client's
            self._last_read = now
        if (left := self._last_read + self.limits.body_timeout_s - now) > 0:
            self._arm(left, self._body_check)
            return
        self.cycle.scope["state"][BODY_TIMED_OUT] = True
        timeout = self.limits.body_timeout_s
        self._refuse(408, f"no bytes of the request body arrived for {timeout:g}s (BODY_TIMEOUT_S)")

    def _refuse_head_size(self) -> None:
        self._refuse(431, f"the request headers are over {self.limits.max_header_bytes} bytes (MAX_HEADER_BYTES)")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with the service's error body, unless a response is under way; then close."""
        self._cancel_timer()
        if self.transport.is_closing():
            return
        answer = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A body phase refuses this request (answer it unless the app has begun to); a head phase
            # refuses the next one while this response is under way (close only).
            answer = self._phase == "body" and not cycle.response_started
            cycle.disconnected = True  # whatever the app still sends goes nowhere
            cycle.message_event.set()
        if answer:
            body = json.dumps({"error_code": _ERROR_CODES[status], "message": message}).encode()
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body)]
            head.append(b"connection: close\r\n\r\n")
            self.transport.write(b"".join(head) + body)
        self.transport.close()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("%s: %d, %s", client, status, message)

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._timer = self.loop.call_later(max(delay, 0.0), callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class OneWrite:
    """The transport as a request's response cycle sees it: the response head is held back and written with
    the first piece of the body, one `send` instead of two.

    uvicorn writes the head as soon as the app sends `http.response.start`; with `TCP_NODELAY` (uvloop sets
    it, and so does `HttpProtocol`) that is a packet and a wake-up of the client of its own, then the body
    another. For a one-row prediction that second system call was ~5% of the request's CPU (bench/profile.md).
    Writes before the response starts (`100 Continue`) go out at once; a head still held when the cycle
    closes the connection is written first. Not for HEAD requests, whose answer is the head alone.

    The cycle is let go of once the head is held: the cycle and this transport would otherwise be a reference
    cycle, and every request's cycle (its scope, ids, event, ~12 objects) garbage only the cyclic collector
    frees, one gen-0 collection every ~60 requests (bench/profile.md, session 7).
    """

    __slots__ = ("_cycle", "_head", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        self._cycle: Any = cycle
        self._head: bytes | None = None
        self._held = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._held and self._cycle is not None and self._cycle.response_started:
            self._held = True  # the head: the first write once the response started
            self._head = data
            self._cycle = None  # the cycle holds this transport: no reference cycle left for the collector
            return
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
