"""SIGTERM under load: in-flight requests finish, capture is flushed, exit 0 within the grace period."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.conftest import RegisteredModel
from tests.hardening.load import Outcomes, TaggedTraffic
from tests.helpers import wait_until
from tests.processes import RunningService

GRACE_S = 20
ROWS_PER_REQUEST = 3


def _captured(root: Path) -> tuple[int, list[str]]:
    """Rows and request ids of every published capture file (names starting with `.` or `_` ignored)."""
    files = [p for p in root.rglob("*.parquet") if not p.name.startswith((".", "_"))]
    if not files:
        return 0, []
    table = ds.dataset([str(p) for p in files], format="parquet").to_table(columns=["_request_id"])
    return table.num_rows, table.column("_request_id").to_pylist()


@dataclass
class Shutdown:
    service: RunningService
    exit_code: int | None
    outcomes: Outcomes
    stopped_at: float
    capture: Path


@pytest.fixture(scope="module")
def shutdown(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shutdown]:
    """A service under 8 clients of traffic, sent SIGTERM (to its main process, as a kubelet does)."""
    root = tmp_path_factory.mktemp("shutdown")
    service = RunningService(
        {
            "MODEL_URI": demo_model.uri,
            "MLFLOW_TRACKING_URI": demo_model.tracking_uri,
            "RELOAD_INTERVAL_S": "0",
            "CAPTURE_URI": str(root / "capture"),
            "CAPTURE_FLUSH_INTERVAL_S": "3600",  # only the shutdown flush writes files
            "SHUTDOWN_GRACE_S": str(GRACE_S),
        },
        log_dir=root,
    )
    service.start()
    service.wait_ready()
    rows = demo_model.frame.drop(columns="target").head(ROWS_PER_REQUEST)
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
    assert service.proc is not None
    try:
        with TaggedTraffic(f"{service.url}/invocations", body, clients=8) as traffic:
            wait_until(lambda: traffic.answered >= 200, timeout=120, what="traffic flowing")
            stopped_at = time.monotonic()
            os.kill(service.proc.pid, signal.SIGTERM)
            code = service.proc.wait(timeout=GRACE_S)
            wait_until(lambda: len(traffic.outcomes.refused) >= 8, timeout=30, what="clients refused after the stop")
        yield Shutdown(service, code, traffic.outcomes, stopped_at, root / "capture")
    finally:
        service.terminate()


def test_sigterm_under_load_fails_no_accepted_request_and_flushes_their_capture(shutdown: Shutdown) -> None:
    outcomes = shutdown.outcomes
    assert outcomes.not_ok == {}, "a request the server answered did not get 200"
    assert len(outcomes.ok) >= 200
    assert min(outcomes.refused.values()) >= shutdown.stopped_at, "a connection was refused before the SIGTERM"
    captured_rows, captured_ids = _captured(shutdown.capture)
    assert set(captured_ids) == outcomes.ok, "captured requests differ from the requests answered 200"
    assert captured_rows == ROWS_PER_REQUEST * len(outcomes.ok)
    lost = set(outcomes.cut_off) & set(captured_ids)
    assert not lost, f"requests served and captured but cut off before their response: {sorted(lost)[:5]}"
    log = shutdown.service.log_text()
    assert log.index("shutting down") < log.index("shutdown complete")


def test_sigterm_exits_0_within_the_grace_period(shutdown: Shutdown) -> None:
    assert shutdown.exit_code == 0
