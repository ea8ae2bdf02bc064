"""Capture to object storage (`CAPTURE_URI=s3://...`) and the drift job reading S3: reference and capture."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.backends.conftest import BUCKET, Backend
from tests.helpers import wait_until
from tests.processes import REPO, RunningService, base_env
from tests.service.test_following import Versions, metric_value

REQUESTS = 40
ROWS_PER_REQUEST = 5
KEY = re.compile(r"^capture/model=(?P<model>[^/]+)/date=\d{4}-\d{2}-\d{2}/hour=\d{2}/part-\d+-[^/]+-\d+-\d+\.parquet$")


def _objects(backend: Backend, prefix: str) -> list[str]:
    return list(_sizes(backend, prefix))


def _sizes(backend: Backend, prefix: str) -> dict[str, int]:
    pages = backend.s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


def _parquet(backend: Backend, key: str) -> pa.Table:
    body = backend.s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def _run_drift(backend: Backend, model_uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(**backend.service_env())
    return subprocess.run(
        [sys.executable, "-m", "drift", "run", "--model-uri", model_uri, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def captured(pg_service: RunningService) -> tuple[RunningService, set[str], str]:
    """The S3-capturing replica after REQUESTS requests of ROWS_PER_REQUEST demo rows; also the version served."""
    from training.data import load_demo_frame

    features = load_demo_frame().drop(columns="target")
    ids, versions = set(), set()
    with httpx.Client(timeout=30) as client:
        for i in range(REQUESTS):
            rows = features.iloc[i * ROWS_PER_REQUEST : (i + 1) * ROWS_PER_REQUEST]
            split = json.loads(rows.to_json(orient="split", index=False))
            response = client.post(
                f"{pg_service.url}/invocations", json={"dataframe_split": split}, headers={"X-Request-ID": f"s3-{i}"}
            )
            assert response.status_code == 200, response.text
            ids.add(f"s3-{i}")
            versions.add(response.headers["x-model-version"])
    assert len(versions) == 1
    sent = REQUESTS * ROWS_PER_REQUEST
    wait_until(lambda: metric_value(pg_service, "capture_rows_total") >= sent, timeout=60, what="capture flushed")
    return pg_service, ids, versions.pop()


def test_capture_files_land_in_s3_in_the_contract_layout(
    backend: Backend, pg_versions: Versions, captured: tuple[RunningService, set[str], str]
) -> None:
    service, ids, version = captured
    sizes = _sizes(backend, "capture/")
    markers = sorted(key for key, size in sizes.items() if key.endswith("/") or size == 0)
    assert markers == [], "empty directory marker objects written under the capture prefix"
    keys = list(sizes)
    assert keys, "no capture object in S3"
    assert all(KEY.match(key) for key in keys), keys
    assert {KEY.match(key)["model"] for key in keys} == {pg_versions.name}  # type: ignore[index]
    tables = [_parquet(backend, key) for key in keys]
    assert sum(t.num_rows for t in tables) == REQUESTS * ROWS_PER_REQUEST
    assert {rid for t in tables for rid in t.column("_request_id").to_pylist()} == ids
    assert {"mean_radius", "size_band", "_timestamp", "_model_version", "_prediction"} <= set(tables[0].column_names)
    assert {v for t in tables for v in t.column("_model_version").to_pylist()} == {version}
    assert metric_value(service, "capture_dropped_rows_total") == 0


def test_drift_job_reads_the_reference_and_the_capture_from_s3(
    backend: Backend, pg_versions: Versions, captured: tuple[RunningService, set[str], str]
) -> None:
    v, version = pg_versions, captured[2]
    v.move(version)  # the alias names the version whose rows were captured
    run_id = v.client.get_model_version(v.name, version).run_id
    assert run_id is not None
    references = [
        k for k in _objects(backend, "artifacts/") if run_id in k and k.endswith("reference/reference.parquet")
    ]
    assert len(references) == 1, "the reference artifact is not stored in S3"
    reference_rows = _parquet(backend, references[0]).num_rows

    result = _run_drift(
        backend, v.uri, "--capture-uri", f"s3://{BUCKET}/capture", "--window", "2h", "--min-rows", "100"
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model_version"] == version
    assert report["reference_rows"] == reference_rows
    assert report["current_rows"] == REQUESTS * ROWS_PER_REQUEST
    assert report["drift_detected"] in (True, False)
    assert "mean_radius" in report["features"]
