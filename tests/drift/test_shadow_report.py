"""The drift report's disagreement section: capture rows of schema 3 (shadow output), schema 2 unchanged."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from drift.disagreement import shadow_report
from drift.report_shadow import TITLE
from drift.shadow import agreeing
from drift.shadow_settings import Tolerance
from tests.conftest import RegisteredModel
from tests.drift.capture_files import write_capture
from tests.drift.drift_process import END, Outcome, demo_rows, finish_drift, start_drift
from tests.drift.shadow_capture import write_shadow_capture

SLICE_AT = 17.0
CHALLENGER = "77"
SVG = "{http://www.w3.org/2000/svg}"


def _bounds(label: str) -> tuple[float, float]:
    low, high = label.strip("[])").split(", ")
    return float(low), float(high)


def test_the_ranges_where_the_shadow_disagrees_come_first() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, size=2_000)
    colour = rng.choice(["red", "green", "blue"], size=2_000)
    production = (x > 5).astype(np.float64)
    shadow = np.where((x > 8) | ((colour == "blue") & (x < 1)), 1 - production, production)
    frame = pd.DataFrame(
        {
            "x": x,
            "colour": colour,
            "_model_version": "3",
            "_prediction": production,
            "_shadow_version": CHALLENGER,
            "_shadow_prediction": shadow,
            "_shadow_error": None,
        }
    )
    frame.loc[:9, "_shadow_error"] = "dropped"
    frame.loc[:9, "_shadow_prediction"] = np.nan

    report = shadow_report(frame, {"x": "numeric", "colour": "categorical"}, Tolerance())

    assert report is not None
    assert report.shadow_version == CHALLENGER
    assert report.production_versions == ["3"]
    assert report.counts.dropped == 10
    assert report.counts.compared == 1_990
    compared = frame.iloc[10:]
    disagreeing = (compared["_prediction"] != compared["_shadow_prediction"]).sum()
    assert report.counts.agreement == pytest.approx(1 - disagreeing / 1_990)
    top = report.top_ranges()
    assert top[0].feature == "x"
    assert top[0].rate == 1.0
    assert _bounds(top[0].label)[0] >= 8.0
    x_ranges = next(f for f in report.features if f.name == "x").ranges
    assert sum(r.rows for r in x_ranges) == 1_990
    assert all(r.rate == 0.0 for r in x_ranges if _bounds(r.label)[0] >= 1.0 and _bounds(r.label)[1] <= 8.0)
    colours = {r.label: r for r in next(f for f in report.features if f.name == "colour").ranges}
    assert set(colours) == {"red", "green", "blue"}
    assert colours["blue"].rate > colours["red"].rate


def test_rows_without_shadow_output_make_no_section() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "_prediction": [0.0, 1.0], "_model_version": "1"})
    assert shadow_report(frame, {"x": "numeric"}, Tolerance()) is None
    frame["_shadow_version"] = None
    assert shadow_report(frame, {"x": "numeric"}, Tolerance()) is None


@pytest.fixture(scope="module")
def runs(demo_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """The drift job on a schema-3 capture (a challenger flipping every answer where mean_radius > 17) and on
    a schema-2 capture of the same rows."""
    mlflow.set_tracking_uri(demo_model.tracking_uri)
    predictor = mlflow.pyfunc.load_model(f"models:/{demo_model.name}/{demo_model.version}")
    rows = demo_rows(demo_model.frame, 1_500, False, 5)
    answers = np.asarray(predictor.predict(rows), dtype=np.float64)
    flipped = np.where(rows["mean_radius"].to_numpy() > SLICE_AT, 1 - answers, answers)
    root = tmp_path_factory.mktemp("shadow-captures")
    at = END - timedelta(minutes=30)
    name, version = demo_model.name, demo_model.version
    write_shadow_capture(
        root / "shadow",
        name,
        rows,
        at,
        version=version,
        predictions=answers,
        shadow_version=CHALLENGER,
        shadow_predictions=flipped,
    )
    write_capture(root / "plain", name, rows, at, version=version, predictions=answers, schema_version=2)
    env = {"MLFLOW_TRACKING_URI": demo_model.tracking_uri}
    args = ["--model-uri", demo_model.uri, "--window", "6h", "--capture-uri"]
    return finish_drift({kind: start_drift([*args, str(root / kind)], **env) for kind in ("shadow", "plain")})


def _html(outcome: Outcome, demo_model: RegisteredModel, tmp_path: Path) -> str:
    client = MlflowClient(demo_model.tracking_uri)
    path = client.download_artifacts(outcome.result["run_id"], "drift_report.html", str(tmp_path))
    return Path(path).read_text()


def test_the_report_names_the_slice_where_the_challenger_disagrees(
    runs: dict[str, Outcome], demo_model: RegisteredModel, tmp_path: Path
) -> None:
    outcome = runs["shadow"]
    assert outcome.code == 0, outcome.stderr
    summary = outcome.result["shadow"]
    assert summary["shadow_version"] == CHALLENGER
    assert summary["production_versions"] == [demo_model.version]
    assert summary["compared"] == 1_500
    assert summary["agreement"] < 1.0
    radius = [r for r in summary["top_ranges"] if r["feature"] == "mean_radius"]
    assert radius, summary["top_ranges"]
    assert all(_bounds(r["range"])[0] >= SLICE_AT or _bounds(r["range"])[1] > SLICE_AT for r in radius)
    assert any(r["rate"] == 1.0 and _bounds(r["range"])[0] >= SLICE_AT for r in radius)
    assert max(r["rate"] for r in summary["top_ranges"]) == 1.0

    html = _html(outcome, demo_model, tmp_path)
    assert TITLE in html
    section = html[html.index(TITLE) :]
    assert "<td>mean_radius</td>" in section
    plots = [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", section, flags=re.DOTALL)]
    titles = [plot.findtext(f"{SVG}title") for plot in plots]
    assert "mean_radius" in titles
    assert len(titles) == len(demo_model.frame.columns) - 1  # one plot per input feature


def test_a_capture_without_shadow_columns_gives_the_report_as_before(
    runs: dict[str, Outcome], demo_model: RegisteredModel, tmp_path: Path
) -> None:
    outcome = runs["plain"]
    assert outcome.code == 0, outcome.stderr
    assert outcome.result["shadow"] is None
    assert outcome.result["drift_detected"] is False
    assert TITLE not in _html(outcome, demo_model, tmp_path)


def test_agreement_counts_labels_as_identical_and_values_within_the_tolerance() -> None:
    tolerance = Tolerance(atol=1e-6, rtol=0.01)
    labels = agreeing(pd.Series([150.0, 151.0, 0.0]), pd.Series([151.0, 151.0, 1.0]), tolerance)
    values = agreeing(pd.Series([10.5, 100.2, np.nan]), pd.Series([10.55, 102.0, 1.0]), tolerance)
    text = agreeing(pd.Series(["a", "b"]), pd.Series(["a", "c"]), tolerance)
    assert labels.tolist() == [False, True, False]  # classes 150 and 151 differ, however close
    assert values.tolist() == [True, False, False]  # within 1% of production, beyond it, missing
    assert text.tolist() == [True, False]
