"""The wire's own cost: a bare ASGI app that reads the request body and answers a constant JSON.

Served by uvicorn with uvloop and httptools, as the predictor is, pinned to the same CPU: the ceiling any
Python server on this stack can reach with this request, and the line the predictor's overhead is read against.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from bench.models import BenchModel, split_body
from bench.servers import Server, clean_env, free_port

ANSWER = b'{"predictions": [1]}'
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(
    scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


def echo_server(model: BenchModel, out: Path) -> Server:
    """The echo under uvicorn's settings for the predictor (service/__main__.py): uvloop, httptools, 1 worker."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.echo:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-keep-alive",
        "5",
        "--no-server-header",
    ]
    return Server(
        "echo",
        "bare ASGI echo (uvicorn, uvloop, httptools)",
        args,
        clean_env(),
        port,
        "/",
        "/invocations",
        split_body(model),
        out / "logs" / f"echo-{model.key}.log",
    )
