"""uvicorn's httptools protocol with TCP_NODELAY set on every accepted connection.

With several workers uvicorn hands the listening socket to child processes and, seen on this kind of
machine, small responses then wait for Nagle's algorithm: about 40 ms a request on a kept-alive
connection (uvicorn issue #3149). Setting TCP_NODELAY ourselves removes that for one worker and many.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
