"""`python -m drift audit --capture-uri s3://...` finds a request among many capture objects (moto S3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.backends.conftest import BUCKET
from tests.backends.stack import MotoS3
from tests.drift.audit_process import audit, write_requests
from tests.drift.capture_files import write_capture

END = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
PREFIX = "audit-capture"


@pytest.fixture(scope="module")
def s3_capture(moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Capture files of three hours (30 objects, both schema versions) uploaded under s3://BUCKET/PREFIX."""
    root = tmp_path_factory.mktemp("s3-audit")
    rows = write_requests(root, END - timedelta(hours=3), 360, rows_per_request=3, rows_per_file=12)
    write_capture(root, "fraud", rows[["amount", "country"]].head(6), END - timedelta(days=1), request_ids=["v1"] * 6)
    client = moto_s3.client()
    for path in root.rglob("*.parquet"):
        client.upload_file(str(path), BUCKET, f"{PREFIX}/{path.relative_to(root).as_posix()}")
    return rows


def test_a_request_is_found_in_s3_with_its_exact_inputs_and_output(moto_s3: MotoS3, s3_capture: pd.DataFrame) -> None:
    expected = s3_capture[s3_capture["request_id"] == "req-77"]

    found = audit(f"s3://{BUCKET}/{PREFIX}", "--request-id", "req-77", **moto_s3.client_env)

    assert found.code == 0, found.stderr
    assert [row["inputs"] for row in found.rows] == expected[["amount", "country"]].to_dict(orient="records")
    assert [row["output"]["prediction"] for row in found.rows] == [float(i % 2) for i in expected.index]
    assert [datetime.fromisoformat(row["timestamp"]) for row in found.rows] == list(expected["at"])
    assert all(row["file"].startswith(f"s3://{BUCKET}/{PREFIX}/model=fraud/") for row in found.rows)


def test_a_time_range_and_an_old_layout_object_in_s3(moto_s3: MotoS3, s3_capture: pd.DataFrame) -> None:
    since, until = END - timedelta(minutes=90), END - timedelta(minutes=80)
    inside = s3_capture[(s3_capture["at"] >= since) & (s3_capture["at"] < until)]

    ranged = audit(
        f"s3://{BUCKET}/{PREFIX}", "--since", since.isoformat(), "--until", until.isoformat(), **moto_s3.client_env
    )
    old = audit(f"s3://{BUCKET}/{PREFIX}", "--request-id", "v1", **moto_s3.client_env)

    assert ranged.code == 0, ranged.stderr
    assert [row["inputs"]["amount"] for row in ranged.rows] == inside["amount"].tolist()
    assert old.code == 0, old.stderr
    assert [(row["schema_version"], row["request_id"]) for row in old.rows] == [(1, "v1")] * 6
