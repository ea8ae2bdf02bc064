"""One predictor for the demo model, shared by the fuzzing and hostile-payload tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RegisteredModel
from tests.processes import RunningService, serving

MAX_REQUEST_BYTES = 8_000_000
"""Above the 3 MB cells of the hostile payloads, so those reach the parser and the model."""


@pytest.fixture(scope="package")
def target(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("hardening")
    with serving(
        demo_model.service_env(
            CAPTURE_URI=str(root / "capture"), MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES), MAX_ROWS="1000"
        ),
        root,
    ) as service:
        yield service


def server_errors(service: RunningService) -> dict[str, float]:
    """`http_requests_total` series with a 5xx status, by their label text.

    The 503s of `/health/ready` while the model loaded (the fixture polls it at start) are left out.
    """
    errors = {}
    for line in httpx.get(f"{service.url}/metrics", timeout=10).text.splitlines():
        starting = 'route="/health/ready"' in line and 'status="503"' in line
        if line.startswith("http_requests_total{") and 'status="5' in line and not starting:
            labels, value = line.rsplit(" ", 1)
            if float(value) > 0:
                errors[labels] = float(value)
    return errors
