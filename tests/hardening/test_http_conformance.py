"""The real server's HTTP/1.1 framing, judged by parsers and clients this project did not write.

`service/server.py` replaces parts of uvicorn's protocol (the one-write response, the head and body
deadlines, closing after an early answer). Our own raw-bytes tests hold it to what we meant; these hold it to
h11 (a strict, standalone HTTP/1.1 state machine: it rejects a response whose framing is wrong — a length
that does not match, a body on a HEAD answer, a message that runs into the next one) and to curl's defaults
(`Expect: 100-continue`, connection reuse across URLs). Every route the service has is asked GET and HEAD on
one kept-alive connection, scoring requests are pipelined, and bodies are sent chunked and with HTTP/1.0.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import h11
import httpx
import pytest

from tests.conftest import RegisteredModel
from tests.hardening import rawhttp
from tests.hardening.conftest import server_errors
from tests.processes import RunningService

GET_ROUTES = [
    "/health/live",
    "/health/ready",
    "/ping",
    "/health",
    "/version",
    "/model",
    "/metrics",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    "/nowhere",
]


def _parsed(sock: socket.socket, requests: list[h11.Request], bodies: list[bytes]) -> list[tuple[h11.Response, bytes]]:
    """Send every request in one write (pipelined), then read the answers with h11 as the client's parser."""
    conn = h11.Connection(our_role=h11.CLIENT)
    wire = b""
    for request, body in zip(requests, bodies, strict=True):
        wire += _encode(request, body)
    sock.sendall(wire)
    answers: list[tuple[h11.Response, bytes]] = []
    for index, (request, body) in enumerate(zip(requests, bodies, strict=True)):
        if index:
            conn.start_next_cycle()  # raises unless the previous exchange ended cleanly and kept the connection
        conn.send(request)  # only moves the client's state: the bytes went out above
        if body:
            conn.send(h11.Data(data=body))
        conn.send(h11.EndOfMessage())
        answers.append(_answer(conn, sock))
    return answers


def _encode(request: h11.Request, body: bytes) -> bytes:
    writer = h11.Connection(our_role=h11.CLIENT)
    wire = writer.send(request) or b""
    if body:
        wire += writer.send(h11.Data(data=body)) or b""
    return wire + (writer.send(h11.EndOfMessage()) or b"")


def _answer(conn: h11.Connection, sock: socket.socket) -> tuple[h11.Response, bytes]:
    response: h11.Response | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, h11.InformationalResponse):
            continue
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return response, body
        else:
            raise AssertionError(f"unexpected {event!r}")


def _get(path: str, method: str = "GET") -> h11.Request:
    return h11.Request(method=method, target=path, headers=[("Host", "conformance")])


def _post(path: str, body: bytes, content_type: str = "application/json", chunked: bool = False) -> h11.Request:
    framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(len(body)))
    headers = [("Host", "conformance"), ("Content-Type", content_type), framing]
    return h11.Request(method="POST", target=path, headers=headers)


def _header(response: h11.Response, name: bytes) -> bytes | None:
    return next((value for key, value in response.headers if key == name), None)


def _rows(demo_model: RegisteredModel, n: int) -> bytes:
    frame = demo_model.frame.drop(columns="target").head(n)
    return json.dumps({"dataframe_split": frame.to_dict(orient="split")}).encode()


def test_every_route_answers_get_and_head_with_framing_h11_accepts(
    target: RunningService, demo_model: RegisteredModel
) -> None:
    paths = [p.format(name=demo_model.name, version=demo_model.version) for p in GET_ROUTES]
    requests = [_get(path, method) for path in paths for method in ("GET", "HEAD")]
    sock = rawhttp.connect(target.url)
    answers = _parsed(sock, requests, [b""] * len(requests))
    sock.close()
    for path, (get, head) in zip(paths, zip(answers[::2], answers[1::2], strict=True), strict=True):
        (got, got_body), (headed, head_body) = get, head
        assert head_body == b"", f"HEAD {path} sent a body"
        if path == "/nowhere":
            assert got.status_code == headed.status_code == 404
            continue
        assert got.status_code == 200, (path, got, got_body[:300])
        assert headed.status_code == 200, (path, headed)  # RFC 9110 9.1: servers support GET and HEAD
        length = _header(got, b"content-length")
        assert length is not None, (path, got.headers)
        assert int(length) == len(got_body), (path, length, len(got_body))
        if path != "/metrics":  # the others answer the same bytes twice in a row
            assert _header(headed, b"content-length") == length, (path, headed.headers)
            assert _header(headed, b"content-type") == _header(got, b"content-type"), path
    scrape = httpx.get(f"{target.url}/metrics", timeout=10).text
    assert 'http_requests_total{method="HEAD",route="/health/live",status="200"}' in scrape
    assert not server_errors(target)


def test_pipelined_scoring_requests_come_back_in_order_each_framed(
    target: RunningService, demo_model: RegisteredModel
) -> None:
    """Different sizes, an error between them, a chunked body: one connection, one write, answers in order."""
    bodies = [
        _rows(demo_model, 1),
        _rows(demo_model, 5),
        b'{"dataframe_split": {"columns": ["x"]',
        _rows(demo_model, 3),
    ]
    requests = [_post("/invocations", body) for body in bodies[:3]] + [_post("/invocations", bodies[3], chunked=True)]
    sock = rawhttp.connect(target.url)
    answers = _parsed(sock, requests, bodies)
    sock.close()
    statuses = [response.status_code for response, _ in answers]
    assert statuses == [200, 200, 400, 200], [(r.status_code, body[:200]) for r, body in answers]
    assert [len(json.loads(answers[i][1])["predictions"]) for i in (0, 1, 3)] == [1, 5, 3]
    assert json.loads(answers[2][1])["error_code"] == "BAD_REQUEST"
    for response, body in answers:
        assert int(_header(response, b"content-length") or -1) == len(body)


def test_http_1_0_gets_its_answer_and_the_connection_closes(
    target: RunningService, demo_model: RegisteredModel
) -> None:
    body = _rows(demo_model, 2)
    head = b"POST /invocations HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    sock = rawhttp.connect(target.url)
    sock.sendall(head % len(body) + body)
    # h11 writes only HTTP/1.1: it reads the answer as that of a 1.1 request that asked to close.
    conn = h11.Connection(our_role=h11.CLIENT)
    closing = [("Host", "t"), ("Connection", "close"), ("Content-Length", str(len(body)))]
    conn.send(h11.Request(method="POST", target="/invocations", headers=closing))
    conn.send(h11.Data(data=body))
    conn.send(h11.EndOfMessage())
    response, answer = _answer(conn, sock)
    rest = sock.recv(65536)  # b"" once the server has closed
    sock.close()
    assert response.status_code == 200, answer
    assert len(json.loads(answer)["predictions"]) == 2
    assert rest == b""


@pytest.fixture(scope="module")
def curl() -> str:
    found = shutil.which("curl")
    if found is None:
        pytest.skip("curl is not installed (apt install curl): the stock-client checks need it")
    return found


def test_curl_expect_100_continue_and_connection_reuse(
    target: RunningService, demo_model: RegisteredModel, curl: str, tmp_path: Path
) -> None:
    """curl as users run it: a body sent only after `100 Continue`, and three URLs over one connection."""
    payload = tmp_path / "rows.json"
    payload.write_bytes(_rows(demo_model, 4))
    posted = subprocess.run(
        [curl, "-sS", "-v", "--http1.1", "-H", "Expect: 100-continue", "-H", "Content-Type: application/json",
         "--data-binary", f"@{payload}", f"{target.url}/invocations"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "< HTTP/1.1 100 Continue" in posted.stderr, posted.stderr
    assert "< HTTP/1.1 200" in posted.stderr, posted.stderr
    assert len(json.loads(posted.stdout)["predictions"]) == 4
    urls = [
        arg for path in ("/health/live", "/version", "/health/ready") for arg in ("-o", "/dev/null", target.url + path)
    ]
    reused = subprocess.run(
        [curl, "-sS", "-w", "%{http_code} %{num_connects}\\n", *urls],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert reused.stdout.split("\n")[:3] == ["200 1", "200 0", "200 0"], reused.stdout  # 0: the connection was reused
