"""Connections a client holds open: silent, trickled, half-sent or stalled requests, oversized headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RegisteredModel
from tests.hardening import rawhttp
from tests.helpers import wait_until
from tests.processes import RunningService, serving
from tests.service.test_following import metric_value

KEEP_ALIVE_S = 5  # what `python -m service` gives uvicorn
STALL_S = 2
"""HEADER_TIMEOUT_S and BODY_TIMEOUT_S of the service under test (default 10)."""
MAX_HEADER_BYTES = 65_536  # the default
LIVE = b"GET /health/live HTTP/1.1\r\nHost: t\r\n"


@pytest.fixture(scope="module")
def guarded(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("connections")
    with serving(demo_model.service_env(HEADER_TIMEOUT_S=str(STALL_S), BODY_TIMEOUT_S=str(STALL_S)), root) as service:
        yield service


def test_an_idle_kept_alive_connection_is_closed(guarded: RunningService) -> None:
    sock = rawhttp.connect(guarded.url)
    sock.sendall(LIVE + b"\r\n")
    assert rawhttp.read_response(sock).status == 200
    assert rawhttp.wait_closed({"kept alive": sock}, timeout=4 * KEEP_ALIVE_S) == {"kept alive"}
    sock.close()


def test_silent_half_sent_and_stalled_requests_are_disconnected(guarded: RunningService) -> None:
    stalled_before = metric_value(guarded, 'http_requests_total{method="POST",route="/invocations",status="408"}')
    openings = {
        "silent": b"",
        "half a header": b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-",
        "stalled body": b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\nx",
    }
    sockets = {name: rawhttp.connect(guarded.url) for name in openings}
    for name, data in openings.items():
        sockets[name].sendall(data)
    received: dict[str, bytes] = {}
    closed = rawhttp.wait_closed(sockets, timeout=2 * KEEP_ALIVE_S, received=received)
    for sock in sockets.values():
        sock.close()
    assert closed == set(openings), f"still open after {2 * KEEP_ALIVE_S}s: {sorted(set(openings) - closed)}"
    assert "silent" not in received, "a connection that never sent a byte is closed without an answer"
    assert received["half a header"].startswith(b"HTTP/1.1 408"), received
    assert b"HEADER_TIMEOUT_S" in received["half a header"]
    assert received["stalled body"].startswith(b"HTTP/1.1 408"), received
    assert b"BODY_TIMEOUT_S" in received["stalled body"]
    counted = 'http_requests_total{method="POST",route="/invocations",status="408"}'
    wait_until(lambda: metric_value(guarded, counted) == stalled_before + 1, timeout=10, what="the stall counted")


def test_a_head_trickled_byte_by_byte_is_cut_off(guarded: RunningService) -> None:
    """Each byte comes well within the keep-alive timeout; the head as a whole has HEADER_TIMEOUT_S."""
    sock = rawhttp.connect(guarded.url)
    head = LIVE + b"X-Slow: " + b"a" * 60  # 0.2 s a byte: about 20 s to send it all
    received: dict[str, bytes] = {}
    sent = 0
    while sent < len(head) and not rawhttp.wait_closed({"trickle": sock}, timeout=0.2, received=received):
        sock.sendall(head[sent : sent + 1])
        sent += 1
    sock.close()
    assert received.get("trickle", b"").startswith(b"HTTP/1.1 408"), (sent, received)
    assert sent < len(head)


def test_an_endless_header_is_refused(guarded: RunningService) -> None:
    sock = rawhttp.connect(guarded.url)
    sock.sendall(LIVE + b"X-Padding: ")
    outcome = rawhttp.stream_until_answered(sock, rawhttp.CHUNK, max_bytes=16_000_000)
    sock.close()
    assert outcome.status == 431, outcome


def test_a_head_over_the_limit_in_one_piece_is_refused_and_one_under_it_served(guarded: RunningService) -> None:
    answers = {}
    for name, padding in (("over", MAX_HEADER_BYTES + 1000), ("under", MAX_HEADER_BYTES - 1000)):
        sock = rawhttp.connect(guarded.url)
        sock.sendall(LIVE + b"X-Padding: " + b"a" * padding + b"\r\n\r\n")
        answers[name] = rawhttp.read_response(sock)
        sock.close()
    assert answers["over"].status == 431, answers["over"]
    assert b"MAX_HEADER_BYTES" in answers["over"].response
    assert answers["under"].status == 200, answers["under"]


def test_pipelined_and_slowly_sent_requests_are_served(guarded: RunningService, demo_model: RegisteredModel) -> None:
    """Requests sent back to back in one write, and a body sent in pieces, each piece within BODY_TIMEOUT_S."""
    sock = rawhttp.connect(guarded.url)
    sock.sendall(LIVE + b"\r\n" + LIVE + b"\r\n")
    pipelined = rawhttp.read_responses(sock, 2)
    body = demo_model.frame.drop(columns="target").head(2).to_csv(index=False).encode()
    sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n")
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body))
    for start in range(0, len(body), len(body) // 3 + 1):
        assert not rawhttp.wait_closed({"slow": sock}, timeout=STALL_S / 4)
        sock.sendall(body[start : start + len(body) // 3 + 1])
    answer = rawhttp.read_response(sock)
    sock.close()
    assert [response.split(b" ", 2)[1] for response in pipelined] == [b"200", b"200"], pipelined
    assert answer.status == 200, answer


def test_a_request_answered_before_its_body_was_read_is_disconnected(guarded: RunningService) -> None:
    """The 404 says nothing about closing: the service closes on its own rather than read the body on."""
    sock = rawhttp.connect(guarded.url)
    sock.sendall(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
    answered = rawhttp.stream_until_answered(sock, rawhttp.chunk_frame(), max_bytes=50_000_000)
    rest = rawhttp.stream_until_answered(sock, rawhttp.chunk_frame(), max_bytes=20_000_000)
    sock.close()
    assert answered.status == 404, answered
    assert b"connection: close" not in answered.response.lower()
    assert answered.closed or rest.closed, f"the connection stayed open (the client sent {rest.sent} more bytes)"
