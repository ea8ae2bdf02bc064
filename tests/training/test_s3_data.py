"""`--data` on object storage: s3:// through pyarrow's filesystems, against a moto S3 server."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx
import pandas as pd
import pytest

from tests.helpers import free_port, venv_binary, wait_until
from tests.processes import ManagedProcess, base_env
from training.data import load_demo_frame, read_frame, write_frame
from training.errors import TrainingInputError

BUCKET = "training-data"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    moto = venv_binary("moto_server")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ManagedProcess(
        [moto, "-H", "127.0.0.1", "-p", str(port)], base_env(), tmp_path_factory.mktemp("moto") / "moto.log"
    )
    server.start()
    try:
        wait_until(lambda: httpx.get(endpoint, timeout=2).status_code < 500, timeout=60, what="moto S3 server")
        yield endpoint
    finally:
        server.terminate()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    if BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.mark.parametrize("key", ["demo.parquet", "demo.csv", "folder/part-0.parquet"])
def test_frames_round_trip_through_s3(s3_bucket: str, key: str) -> None:
    frame = load_demo_frame()
    write_frame(frame, f"s3://{s3_bucket}/{key}")

    pd.testing.assert_frame_equal(read_frame(f"s3://{s3_bucket}/{key}"), frame)


def test_a_missing_s3_object_is_one_clear_error(s3_bucket: str) -> None:
    with pytest.raises(TrainingInputError, match="no such file"):
        read_frame(f"s3://{s3_bucket}/nothing-here.parquet")
