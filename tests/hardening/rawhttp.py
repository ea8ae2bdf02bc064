"""HTTP/1.1 spoken by hand over a socket: what httpx will not do (endless bodies, half-sent headers)."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass

CHUNK = b"a" * 65536


@dataclass
class Outcome:
    """What came back while we kept sending: a response (whole, as far as the server sent it), and whether
    the server closed the connection."""

    sent: int
    response: bytes = b""
    closed: bool = False

    @property
    def status(self) -> int | None:
        if not self.response.startswith(b"HTTP/1.1 "):
            return None
        return int(self.response.split(b" ", 2)[1])


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def stream_until_answered(sock: socket.socket, frame: bytes, max_bytes: int, stall_s: float = 10.0) -> Outcome:
    """Send `frame` again and again until the server answers or closes, or `max_bytes` are sent.

    A server that stops reading without answering for `stall_s` ends the loop too (nothing more to learn).
    """
    sock.setblocking(False)
    outcome = Outcome(sent=0)
    while outcome.sent < max_bytes:
        readable, writable, _ = select.select([sock], [sock], [], stall_s)
        if readable:
            _receive(sock, outcome)
            return outcome
        if not writable:
            return outcome
        try:
            outcome.sent += sock.send(frame)
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            # Refused and closed between select and send: what the server answered is still readable.
            _receive(sock, outcome)
            outcome.closed = True
            return outcome
    return outcome


def read_response(sock: socket.socket, timeout: float = 10.0) -> Outcome:
    """Wait for the server's answer to what was sent: a whole response, or the connection closing."""
    sock.setblocking(False)
    outcome = Outcome(sent=0)
    _receive(sock, outcome, timeout)
    return outcome


def chunk_frame(payload: bytes = CHUNK) -> bytes:
    return b"%x\r\n" % len(payload) + payload + b"\r\n"


def wait_closed(
    sockets: dict[str, socket.socket], timeout: float, received: dict[str, bytes] | None = None
) -> set[str]:
    """The names of the connections the server closed (EOF or reset) within one shared `timeout`.

    What the server sent on each before closing is added to `received`, when given.
    """
    for sock in sockets.values():
        sock.setblocking(False)
    closed: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(closed) < len(sockets) and (left := deadline - time.monotonic()) > 0:
        open_ = {sock: name for name, sock in sockets.items() if name not in closed}
        readable, _, _ = select.select(list(open_), [], [], left)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                closed.add(open_[sock])
            elif received is not None:
                received[open_[sock]] = received.get(open_[sock], b"") + data
    return closed


def read_responses(sock: socket.socket, count: int, timeout: float = 10.0) -> list[bytes]:
    """The next `count` responses (fewer if the server closes or `timeout` passes), e.g. to pipelined requests."""
    sock.setblocking(False)
    outcome = Outcome(sent=0)
    _receive(sock, outcome, timeout, count)
    responses = []
    while (length := _response_length(outcome.response)) is not None:
        responses.append(outcome.response[:length])
        outcome.response = outcome.response[length:]
    return responses


def _receive(sock: socket.socket, outcome: Outcome, timeout: float = 10.0, count: int = 1) -> None:
    """Read until `count` responses are whole (head and Content-Length body) or the server closes.

    TCP is a stream: a head and its body may come in separate reads.
    """
    deadline = time.monotonic() + timeout
    while (
        _whole_responses(outcome.response) < count
        and select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]
    ):
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            outcome.closed = True
            return
        if not data:
            outcome.closed = True
            return
        outcome.response += data


def _whole_responses(data: bytes) -> int:
    whole = 0
    while (length := _response_length(data)) is not None:
        whole += 1
        data = data[length:]
    return whole


def _response_length(data: bytes) -> int | None:
    """Bytes of the first response in `data` (head and Content-Length body), None until it is all there."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return None
    size = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            size = int(value)
    return len(head) + 4 + size if len(body) >= size else None
