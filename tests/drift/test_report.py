"""The report files and the MLflow metric names, without a server."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from drift.mlflow_log import metric_key
from drift.report import write_reports
from drift.stats import compare_categorical, compare_numeric
from drift.verdict import decide
from tests.drift.results import drift_result


def test_the_html_report_is_one_self_contained_file_with_a_plot_per_feature(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"num": rng.normal(size=800), "cat <b>": rng.choice(["x", "y"], size=800)})
    current = pd.DataFrame({"num": rng.normal(size=600) + 1, "cat <b>": rng.choice(["x", "y", "z"], size=600)})
    current.loc[:50, "num"] = np.nan
    result = drift_result()
    result.features = decide(
        [
            compare_numeric("num", reference["num"].to_numpy(), current["num"].to_numpy()),
            compare_categorical("cat <b>", reference["cat <b>"], current["cat <b>"]),
        ],
        result.thresholds,
    )
    json_path, html_path = write_reports(result, tmp_path, reference, current)
    html = html_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing to fetch: opens from MLflow's artifact view
    assert "cat &lt;b&gt;" in html
    assert "cat <b>" not in html
    assert html.count("<tr") == 3  # header and two features
    report = json.loads(json_path.read_text())
    assert report["features"]["num"]["missing"]["test"] == "missing_share"
    assert report["drift_detected"] is True


def test_metric_keys_are_names_mlflow_accepts() -> None:
    assert metric_key("mean radius", "statistic") == "mean radius.statistic"
    assert metric_key("a/b.c(d)", "p_value") == "a_b_c_d_.p_value"
    assert metric_key("", "p_value") == "_.p_value"
    assert len(metric_key("x" * 400, "statistic")) <= 250
