"""Limits: MAX_REQUEST_BYTES while reading, REQUEST_TIMEOUT_S with bounded leftover work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature

from tests.hardening import rawhttp
from tests.helpers import wait_until
from tests.processes import MlflowServer, RunningService, serving
from tests.service.test_following import metric_value

LIMIT = 1_000_000
TIMEOUT_S = 0.5
SLEEP_S = 3.0
STUCK_SLEEP_S = 6.0
"""Long enough for five calls in a row to time out (0.5 s each) while the first is still sleeping."""
MAX_ABANDONED = 4  # service/model_thread.py


def log_sleepy_model(tracking_uri: str) -> str:
    """Register `tests/hardening/sleepy_model.py` (a pyfunc "model from code") aliased Production."""
    mlflow.set_tracking_uri(tracking_uri)
    name = f"sleepy-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame({"x": [1.0, 2.0]})
    signature = infer_signature(example, [2.0, 4.0], params={"sleep_s": 0.0, "trace": "", "release": ""})
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("sleepy_model.py")),
            signature=signature,
            input_example=example,
            pip_requirements=["mlflow"],
            registered_model_name=name,
        )
    MlflowClient(tracking_uri).set_registered_model_alias(name, "Production", str(info.registered_model_version))
    return name


@pytest.fixture(scope="module")
def limited(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    name = log_sleepy_model(mlflow_server.uri)
    root = tmp_path_factory.mktemp("limits")
    with serving(
        {
            "MODEL_URI": f"models:/{name}@Production",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "CAPTURE_URI": "",
            "MAX_REQUEST_BYTES": str(LIMIT),
            "REQUEST_TIMEOUT_S": str(TIMEOUT_S),
        },
        root,
    ) as service:
        yield service


def _predict(service: RunningService, sleep_s: float = 0.0, trace: Path | None = None) -> httpx.Response:
    params = {"sleep_s": sleep_s, "trace": str(trace or "")}
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.5]]}, "params": params}
    return httpx.post(f"{service.url}/invocations", json=body, timeout=60)


def _model_thread_free(service: RunningService) -> None:
    wait_until(lambda: _predict(service).status_code == 200, timeout=60, interval=0.2, what="the model thread free")


def test_an_endless_chunked_body_is_refused_while_it_streams(limited: RunningService) -> None:
    sock = rawhttp.connect(limited.url)
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    outcome = rawhttp.stream_until_answered(sock, rawhttp.chunk_frame(), max_bytes=50 * LIMIT)
    sock.close()
    assert outcome.status == 413, outcome
    assert outcome.sent < 50 * LIMIT


def test_a_declared_length_over_the_limit_is_refused_before_any_body(limited: RunningService) -> None:
    sock = rawhttp.connect(limited.url)
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 10000000000\r\n\r\n"
    )
    answer = rawhttp.read_response(sock)
    closed = answer.closed or rawhttp.wait_closed({"413": sock}, timeout=10) == {"413"}
    sock.close()
    assert answer.status == 413, answer
    assert b"MAX_REQUEST_BYTES" in answer.response
    assert closed, "the connection stayed open after its 413"


def test_after_a_413_the_rest_of_the_body_is_not_read(limited: RunningService) -> None:
    sock = rawhttp.connect(limited.url)
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    refused = rawhttp.stream_until_answered(sock, rawhttp.chunk_frame(), max_bytes=50 * LIMIT)
    assert refused.status == 413
    rest = rawhttp.stream_until_answered(sock, rawhttp.chunk_frame(), max_bytes=20 * LIMIT)
    sock.close()
    assert rest.closed, f"the connection stayed open after its 413 (the client sent {rest.sent} more bytes)"


def _abandoned(service: RunningService) -> tuple[float, float]:
    """`model_abandoned_calls_total` and `model_abandoned_threads` (one model, one version here: one series each)."""
    return metric_value(service, "model_abandoned_calls_total{"), metric_value(service, "model_abandoned_threads{")


def test_a_slow_prediction_answers_504_and_its_call_is_left_to_finish_alone(
    limited: RunningService, tmp_path: Path
) -> None:
    trace = tmp_path / "calls.txt"
    statuses = [_predict(limited, SLEEP_S, trace).status_code for _ in range(3)]
    assert statuses == [504, 504, 504]
    assert httpx.get(f"{limited.url}/health/live").status_code == 200
    assert httpx.get(f"{limited.url}/health/ready").status_code == 200
    assert _predict(limited).json() == {"predictions": [3.0]}
    wait_until(lambda: trace.read_text().count("end") == 3, timeout=60, what="the abandoned calls to return")
    assert sorted(trace.read_text().splitlines()) == ["end"] * 3 + ["start"] * 3, "a timed-out call ran again"


def test_the_next_request_after_a_timeout_is_answered(limited: RunningService) -> None:
    assert _predict(limited, SLEEP_S).status_code == 504
    try:
        response = _predict(limited)
        assert response.status_code == 200, response.text
    finally:
        _model_thread_free(limited)


def test_an_abandoned_call_is_counted_until_it_returns(limited: RunningService) -> None:
    calls_before, _ = _abandoned(limited)
    assert _predict(limited, SLEEP_S).status_code == 504
    wait_until(lambda: _abandoned(limited)[0] >= calls_before + 1, timeout=30, what="the abandoned call counted")
    wait_until(lambda: _abandoned(limited)[1] == 0, timeout=60, what="the abandoned call to return")
    assert _abandoned(limited) == (calls_before + 1, 0)


def test_past_the_cap_of_abandoned_calls_predictions_answer_503_until_one_returns(
    limited: RunningService, tmp_path: Path
) -> None:
    wait_until(lambda: _abandoned(limited)[1] == 0, timeout=60, what="earlier abandoned calls to return")
    calls_before, _ = _abandoned(limited)
    log_start = len(limited.log_text())
    statuses = [_predict(limited, STUCK_SLEEP_S).status_code for _ in range(MAX_ABANDONED + 1)]
    assert statuses == [504] * (MAX_ABANDONED + 1)

    probes = tmp_path / "probes.txt"
    stuck = wait_until(
        lambda: (r := _predict(limited, trace=probes)).status_code == 503 and r, timeout=30, what="a 503"
    )
    assert stuck.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "model calls are stuck" in stuck.json()["message"]
    assert "retry-after" in stuck.headers
    for _ in range(5):
        assert _predict(limited).status_code in (503, 200)
    _model_thread_free(limited)
    wait_until(lambda: _abandoned(limited)[1] == 0, timeout=60, what="every abandoned call to return")
    wait_until(lambda: "model calls recovered" in limited.log_text()[log_start:], timeout=10, what="recovered")

    assert not probes.exists(), "a prediction refused while stuck was run anyway"
    assert _abandoned(limited)[0] == calls_before + MAX_ABANDONED + 1
    log = limited.log_text()[log_start:]
    for line in ("outlived REQUEST_TIMEOUT_S (0.5s): left it running", "model calls are stuck", "served again"):
        assert log.count(line) == 1, (line, log)
    assert log.index("model calls are stuck") < log.index("served again") < log.index("model calls recovered")


def test_the_event_loop_keeps_serving_while_a_model_call_sleeps(limited: RunningService, tmp_path: Path) -> None:
    """A model that waits (I/O, a remote call) uses no CPU: it must still run off the event loop."""
    for _ in range(20):  # the service has seen that this version's calls are cheap (about 0.3 ms of CPU)
        assert _predict(limited).status_code == 200
    trace = tmp_path / "calls.txt"
    with ThreadPoolExecutor(1) as pool:
        sleeping = pool.submit(_predict, limited, SLEEP_S, trace)
        wait_until(lambda: trace.exists() and "start" in trace.read_text(), timeout=30, what="the call started")
        live = httpx.get(f"{limited.url}/health/live", timeout=30)
        during = trace.read_text().splitlines()
        status = sleeping.result().status_code
    _model_thread_free(limited)
    assert live.status_code == 200
    assert during == ["start"], "/health/live waited for the sleeping model call to end"
    assert status == 504
