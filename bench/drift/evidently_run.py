"""One Evidently drift check, run by the Evidently environment's python (no project imports).

    python evidently_run.py REFERENCE.parquet CAPTURE_DIR {preset,ks-chisquare} OUT.html

Reads the reference and every captured row (Evidently has no sampling or window of its own), runs
`DataDriftPreset()` or `DataDriftPreset(num_method="ks", cat_method="chisquare")`, saves the HTML report
and prints one JSON line: per-column method, score and whether it drifted, and the seconds per step.
"""

from __future__ import annotations

import json
import re
import sys
import time

PVALUE_METHODS = {"ks", "chisquare", "z", "t_test", "mannw", "anderson", "fisher_exact", "cramer_von_mises", "g_test"}


def main(reference_path: str, capture: str, mode: str, html_path: str) -> None:
    started = time.perf_counter()
    import pandas as pd
    import pyarrow.dataset as ds
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    dataset = ds.dataset(capture, format="parquet", partitioning="hive", ignore_prefixes=[".", "_"])
    current = dataset.to_table(columns=list(reference.columns)).to_pandas()
    numeric = [c for c in reference.columns if pd.api.types.is_numeric_dtype(reference[c])]
    definition = DataDefinition(
        numerical_columns=numeric, categorical_columns=[c for c in reference.columns if c not in numeric]
    )
    read = time.perf_counter()
    preset = DataDriftPreset() if mode == "preset" else DataDriftPreset(num_method="ks", cat_method="chisquare")
    snapshot = Report([preset]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    computed = time.perf_counter()
    snapshot.save_html(html_path)
    saved = time.perf_counter()
    columns = {}
    for metric in snapshot.dict()["metrics"]:
        match = re.match(r"ValueDrift\(column=(.+),method=(.+),threshold=(.+)\)$", metric["metric_name"])
        if match:
            column, method, threshold = match[1], match[2], float(match[3])
            value = float(metric["value"])
            drifted = value < threshold if method in PVALUE_METHODS else value >= threshold
            columns[column] = {"method": method, "score": value, "threshold": threshold, "drifted": drifted}
    timings = {
        "import": imported - started,
        "read": read - imported,
        "check": computed - read,
        "html": saved - computed,
    }
    print(json.dumps({"rows": [len(reference), len(current)], "columns": columns, "timings_s": timings}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
