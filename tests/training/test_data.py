"""The demo frame and reading/writing training data by path or URI (local here; s3 in test_s3_data)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from training.data import SIZE_BANDS, load_demo_frame, read_frame, write_frame
from training.errors import TrainingInputError
from training.records import reference_sample


def test_demo_frame_has_31_features_a_string_band_and_an_integer_target() -> None:
    frame = load_demo_frame()
    features = frame.drop(columns=["target"])

    assert frame.shape == (569, 32)
    assert len(features.columns) == 31
    assert "mean_radius" in frame.columns
    assert "worst_fractal_dimension" in frame.columns
    assert all(" " not in name for name in frame.columns)
    assert pd.api.types.is_string_dtype(frame["size_band"])
    assert frame["size_band"].dtype == "str"
    assert set(frame["size_band"]) == set(SIZE_BANDS)
    assert (features.drop(columns=["size_band"]).dtypes == "float64").all()
    assert frame["target"].dtype == "int64"
    assert set(frame["target"]) == {0, 1}


def test_size_bands_are_tertiles_of_mean_area() -> None:
    frame = load_demo_frame()
    upper = frame.groupby("size_band")["mean_area"].max()
    lower = frame.groupby("size_band")["mean_area"].min()

    assert upper["small"] < lower["medium"]
    assert upper["medium"] < lower["large"]
    assert frame["size_band"].value_counts().min() >= len(frame) // 3 - 1


@pytest.mark.parametrize("name", ["demo.parquet", "demo.pq", "demo.csv", "demo.csv.gz", "nested/dir/demo.parquet"])
def test_written_frame_reads_back_unchanged(tmp_path: Path, name: str) -> None:
    frame = load_demo_frame()
    write_frame(frame, str(tmp_path / name))

    read = read_frame(str(tmp_path / name))

    pd.testing.assert_frame_equal(read, frame)


def test_a_folder_of_parquet_files_reads_as_one_frame(tmp_path: Path) -> None:
    frame = load_demo_frame()
    write_frame(frame.iloc[:300], str(tmp_path / "parts" / "a.parquet"))
    write_frame(frame.iloc[300:], str(tmp_path / "parts" / "b.parquet"))

    assert len(read_frame(str(tmp_path / "parts"))) == len(frame)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.parquet", None, "no such file"),
        ("data.txt", b"a,b\n1,2\n", "cannot tell the format"),
        ("broken.parquet", b"not parquet at all", "cannot read"),
        ("empty.csv", b"a,b\n", "has no rows"),
    ],
)
def test_unusable_data_is_one_clear_error(tmp_path: Path, name: str, content: bytes | None, reason: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(TrainingInputError, match=reason) as caught:
        read_frame(str(path))
    assert "\n" not in str(caught.value)


def test_reference_sample_is_capped_and_repeatable() -> None:
    frame = pd.DataFrame({"x": range(1000)})

    first, second = reference_sample(frame, max_rows=100), reference_sample(frame, max_rows=100)

    assert len(first) == 100
    pd.testing.assert_frame_equal(first, second)
    assert first.index.is_monotonic_increasing
    assert reference_sample(frame, max_rows=1000) is frame
