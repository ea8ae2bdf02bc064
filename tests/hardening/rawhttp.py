"""HTTP/1.1 spoken by hand over a socket: what httpx will not do (endless bodies, half-sent headers)."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass

CHUNK = b"a" * 65536


@dataclass
class Outcome:
    """What came back while we kept sending: a response's first bytes, or the server closing on us."""

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
            outcome.closed = True
            return outcome
    return outcome


def chunk_frame(payload: bytes = CHUNK) -> bytes:
    return b"%x\r\n" % len(payload) + payload + b"\r\n"


def wait_closed(sockets: dict[str, socket.socket], timeout: float) -> set[str]:
    """The names of the connections the server closed (EOF or reset) within one shared `timeout`."""
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
    return closed


def _receive(sock: socket.socket, outcome: Outcome) -> None:
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        outcome.closed = True
        return
    if data:
        outcome.response = data
    else:
        outcome.closed = True
