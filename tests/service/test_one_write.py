"""The response head goes out with the body, in one write (`service/server.py`, `OneWrite`).

In process: the project's `HttpProtocol` on a real event loop and uvicorn's own config, fed raw HTTP bytes,
its writes recorded by a transport that keeps them (the socket's place).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.server import ServerState

from service.server import DEFAULT_LIMITS, HttpProtocol

ANSWER = b'{"predictions": [1]}'


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


class _Recorded(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Watched(HttpProtocol):
    """Keeps a weak reference to every request's response cycle."""

    cycles: ClassVar[list[weakref.ref[Any]]] = []

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.cycles.append(weakref.ref(self.cycle))


async def _served(request: bytes, protocol_class: type[HttpProtocol] = HttpProtocol) -> list[bytes]:
    config = Config(app=_app, http="httptools", lifespan="off", access_log=False)
    config.load()
    state = ServerState()
    protocol = protocol_class(config, state, {}, asyncio.get_running_loop(), limits=DEFAULT_LIMITS)
    transport = _Recorded()
    protocol.connection_made(transport)
    protocol.data_received(request)
    async with asyncio.timeout(30):
        while state.tasks:  # a pipelined request's task starts when the previous answer completes
            await asyncio.wait(set(state.tasks))
    protocol.connection_lost(None)
    return transport.writes


def test_the_head_and_body_of_a_response_are_one_write() -> None:
    body = b'{"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}'
    request = b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    writes = asyncio.run(_served(request + request))  # two pipelined: each answer whole
    assert len(writes) == 2
    for write in writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n")
        assert write.endswith(b"\r\n\r\n" + ANSWER)


def test_100_continue_still_goes_out_before_the_answer() -> None:
    body = b"{}"
    head = b"POST /invocations HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n"
    writes = asyncio.run(_served(head + body))
    assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(writes) == 2
    assert writes[1].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[1].endswith(ANSWER)


def test_a_head_request_gets_its_head_though_no_body_follows() -> None:
    """uvicorn writes no body for HEAD: a held head would never leave (the client would wait for ever)."""
    writes = asyncio.run(
        _served(b"HEAD /health/live HTTP/1.1\r\nhost: x\r\n\r\nGET /model HTTP/1.1\r\nhost: x\r\n\r\n")
    )
    assert len(writes) == 2
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\n")  # the head alone
    assert writes[1].endswith(b"\r\n\r\n" + ANSWER)


def test_an_answered_request_leaves_no_reference_cycle() -> None:
    """Its cycle and what hangs off it (scope, ids, event) are freed when the answer is done, not left to the
    cyclic collector: with `OneWrite` holding the cycle that holds it, each request was ~12 objects of
    garbage, a gen-0 collection every ~60 requests (bench/profile.md, session 7)."""
    body = b'{"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}'
    request = b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    _Watched.cycles = []
    gc.collect()
    gc.disable()
    try:
        writes = asyncio.run(_served(request + request, _Watched))
        assert len(writes) == 2
        assert len(_Watched.cycles) == 2
        assert [ref() for ref in _Watched.cycles] == [None, None]
    finally:
        gc.enable()
