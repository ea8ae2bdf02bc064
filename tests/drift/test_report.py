"""The report files and the MLflow metric names, without a server."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
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
    json_path, html_path = write_reports(result, tmp_path)
    html = html_path.read_text()
    plots = re.findall(r"<svg .*?</svg>", html, flags=re.DOTALL)
    assert len(plots) == 2
    svg = "{http://www.w3.org/2000/svg}"
    by_title = {element.findtext(f"{svg}title"): element for element in map(ET.fromstring, plots)}
    numeric, categorical = by_title["num"], by_title["cat <b>"]
    assert len(numeric.findall(f"{svg}polygon")) == 2  # reference and current densities
    assert len(categorical.findall(f"{svg}rect")) == 2 * 3  # x, y, z on both sides
    assert sorted(t.text or "" for t in categorical.findall(f"{svg}text")) == ["x", "y", "z"]
    assert not re.search(r'(src|href)="', html)  # nothing to fetch: opens from MLflow's artifact view
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


def test_the_plotted_densities_are_those_of_the_clipped_values() -> None:
    """The sketch counts bins in the values the KS test sorted; it agrees with numpy's histogram of the
    values clipped to the plotted range (the tails counted in the end bins)."""
    rng = np.random.default_rng(2)
    reference, current = rng.standard_t(3, size=5_000), rng.standard_t(3, size=4_000) + 0.5
    sketch = compare_numeric("t", reference, current).sketch
    assert sketch is not None
    low, high = sketch.edges[0], sketch.edges[-1]
    for values, density in ((reference, sketch.reference), (current, sketch.current)):
        expected, _ = np.histogram(np.clip(values, low, high), bins=sketch.edges, density=True)
        np.testing.assert_allclose(density, expected, rtol=1e-9)
    shares = compare_categorical("c", pd.Series(["a"] * 30 + ["b"] * 70), pd.Series(["b"] * 40)).sketch
    assert shares is not None
    assert shares.labels == ("b", "a")
    np.testing.assert_allclose(shares.reference, [0.7, 0.3])
    np.testing.assert_allclose(shares.current, [1.0, 0.0])
