"""The drift benchmark's results: `bench/drift/results.md` in full, and its summary as the drift section of
`bench/results.md` (replaced in place, so `python -m bench`, which rewrites that file, and this benchmark
can run in either order; `python -m bench.drift.run --report-only` puts the section back)."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.drift.data import CURRENT_ROWS, EXPECTED_DRIFT, REFERENCE_ROWS, SHIFTS

if TYPE_CHECKING:
    from bench.drift.run import Measured

FIRST, LATER, LATER_SQLITE = "ours-first", "ours-later", "ours-later-sqlite"
PRESET, KS_CHI2 = "evidently-preset", "evidently-ks-chisquare"
CHECKS = (FIRST, LATER, LATER_SQLITE, PRESET, KS_CHI2)
OURS = (FIRST, LATER, LATER_SQLITE)
LABELS = {
    FIRST: "ours, first check of a version trained elsewhere (no stored reference predictions: loads the "
    "model, predicts, stores them), MLflow server",
    LATER: "ours, a version from this project's training (which stores the reference predictions) or any later "
    "check, MLflow server",
    LATER_SQLITE: "ours, as above, `sqlite:///` store opened by the job itself",
    PRESET: "Evidently 0.7.23 `DataDriftPreset()`",
    KS_CHI2: 'Evidently 0.7.23 `DataDriftPreset(num_method="ks", cat_method="chisquare")`',
}
SHORT = {
    FIRST: "first check, trained elsewhere, MLflow server",
    LATER: "stored predictions, MLflow server",
    LATER_SQLITE: "stored predictions, sqlite",
}
SECTION = "## Drift check vs Evidently (issue 5)"
RSS_LIMIT_MIB = 1e9 / 2**20
SHIFT_TEXT = {**{name: f"{shift}σ mean shift" for name, shift in SHIFTS.items()}, "c0": "mix moved 5 points"}


def flags(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column: drifted, and the figure behind it (ours: statistic and corrected p; Evidently: score)."""
    if "features" in result:
        return {
            name: {
                "drifted": f["drifted"],
                "figure": f"{f['test']} {f['statistic']:.4f}, p corr. {f['p_value_corrected']:.2g}",
            }
            for name, f in result["features"].items()
        }
    return {
        name: {"drifted": c["drifted"], "figure": f"{c['method']} {c['score']:.4g} (threshold {c['threshold']:g})"}
        for name, c in result["columns"].items()
    }


def flagged(measured: Measured) -> set[str]:
    return {column for column, f in flags(measured.result).items() if f["drifted"]}


def speedup(runs: dict[str, list[Measured]], name: str) -> float:
    """Evidently preset's wall time over this check's, median of the per-round ratios."""
    pairs = zip(runs[PRESET], runs[name], strict=True)
    return statistics.median(preset.seconds / check.seconds for preset, check in pairs)


def _timings(runs: Sequence[Measured]) -> str:
    steps = runs[0].result.get("timings_s", {})
    return ", ".join(f"{step} {statistics.median(r.result['timings_s'][step] for r in runs):.2f}" for step in steps)


def _server_cpu(runs: Sequence[Measured]) -> str:
    used = [m.server_cpu_s for m in runs if m.server_cpu_s is not None]
    return f"{statistics.median(used):.2f}" if used else "—"


def summary(runs: dict[str, list[Measured]]) -> list[str]:
    lines = [
        "| check | wall s, median (min-max) | Evidently preset ÷ this | peak RSS MiB (max) "
        "| shifted columns flagged (of 4) | unchanged columns flagged (of 26) | steps, median s "
        "| MLflow server CPU s, median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, measured in runs.items():
        seconds = [m.seconds for m in measured]
        found = flagged(measured[-1])
        lines.append(
            f"| {LABELS[name]} | {statistics.median(seconds):.1f} ({min(seconds):.1f}-{max(seconds):.1f}) "
            f"| {speedup(runs, name):.1f}x | {max(m.peak_rss_mib for m in measured):.0f} "
            f"| {len(found & EXPECTED_DRIFT)} ({', '.join(sorted(found & EXPECTED_DRIFT)) or 'none'}) "
            f"| {len(found - EXPECTED_DRIFT)} ({', '.join(sorted(found - EXPECTED_DRIFT)) or 'none'}) "
            f"| {_timings(measured)} | {_server_cpu(measured)} |"
        )
    return lines


def goals(runs: dict[str, list[Measured]]) -> list[str]:
    lines = ["| goal (issue 5) | measured | target | met |", "|---|---|---|---|"]
    for name in OURS:
        ratio = speedup(runs, name)
        lines.append(f"| Evidently preset ÷ ours ({SHORT[name]}) | {ratio:.1f}x | >= 20x | {_yes(ratio >= 20)} |")
    rss = max(m.peak_rss_mib for name in OURS for m in runs[name])
    lines.append(f"| ours: peak RSS | {rss:.0f} MiB | < 1 GB ({RSS_LIMIT_MIB:.0f} MiB) | {_yes(rss < RSS_LIMIT_MIB)} |")
    exact = all(flagged(m) == EXPECTED_DRIFT for name in OURS for m in runs[name])
    lines.append(f"| ours: verdict, every run | exactly the 4 shifted: {_yes(exact)} | the 4 shifted | {_yes(exact)} |")
    return lines


def _yes(value: bool) -> str:
    return "yes" if value else "**no**"


def per_column(runs: dict[str, list[Measured]]) -> list[str]:
    names = [LATER, PRESET, KS_CHI2]
    table = {name: flags(runs[name][-1].result) for name in names}
    lines = ["| column | change | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for column in [*sorted(EXPECTED_DRIFT), *sorted(set(table[LATER]) - EXPECTED_DRIFT)]:
        cells = []
        for name in names:
            entry = table[name].get(column)
            cells.append("—" if entry is None else f"{'**drift**' if entry['drifted'] else 'no'}: {entry['figure']}")
        lines.append(f"| {column} | {SHIFT_TEXT.get(column, 'none')} | " + " | ".join(cells) + " |")
    return lines


def conditions_text(runs: dict[str, list[Measured]], conditions: dict[str, Any]) -> str:
    ours = runs[LATER][-1].result
    load = conditions.get("load_average", [])
    compiled = conditions.get("bytecode") == "compiled"
    return (
        f"Reference {REFERENCE_ROWS:,} rows, current {CURRENT_ROWS:,} rows (100 capture files over 24 h), 30 columns: "
        "25 numeric, 5 string. Shifted: `n00` 0.05σ, `n01` 0.1σ, `n02` 0.2σ, `c0` mix by 5 points "
        f"(0.50/0.30/0.20 -> 0.45/0.35/0.20). `python -m bench.drift.run`: {len(runs[LATER])} rounds, each check a "
        f"fresh process, interleaved; {platform.machine()}, {os.cpu_count()} CPUs; load average (1 min) "
        f"{min(load, default=0):.1f}-{max(load, default=0):.1f} during the runs (other work shares the machine). "
        f"Ours: KS / chi-square contingency, {ours['correction']}, KS floor {ours['ks_min_statistic']}, "
        f"distance floor {ours['min_distance']}, {ours['current_rows']:,} of the {ours['window']['rows']:,} captured "
        "rows sampled (seeded; only those rows' columns are kept); Evidently reads and tests every row. "
        "Wall time is the whole process: imports, reading, tests, report (HTML with plots), and for ours the "
        "drift run logged to MLflow, either through a local `mlflow server` on the benchmark's sqlite store (as the "
        "CronJob talks to its tracking server; the server's CPU during each check is in the last column) or by "
        "the job opening the sqlite store itself. "
        + (
            "Every process runs with compiled bytecode (a cache filled by unmeasured warm-up runs), as in the "
            "project's image; `--bytecode source` measures compiling every import instead."
            if compiled
            else "Every process compiles every import from source (no bytecode cache)."
        )
    )


def write_results(bench: Path, runs: dict[str, list[Measured]], conditions: dict[str, Any]) -> None:
    intro = conditions_text(runs, conditions)
    detail = ["# Drift check benchmark", "", intro, "", *summary(runs), "", *goals(runs)]
    detail += ["", "## Per column (last round)", "", *per_column(runs), ""]
    (bench / "drift" / "results.md").write_text("\n".join(detail))
    section = [SECTION, "", intro, "", *summary(runs), "", *goals(runs), ""]
    section.append("Per-column figures: `bench/drift/results.md`.")
    replace_section(bench / "results.md", section)


def replace_section(target: Path, section: list[str]) -> None:
    """Put `section` in place of the file's drift section (up to the next `## ` heading), else at the end."""
    lines = target.read_text().splitlines() if target.exists() else []
    if SECTION in lines:
        start = lines.index(SECTION)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = [*section, ""] if end < len(lines) else section
    else:
        lines += ["", *section] if lines else section
    target.write_text("\n".join(lines).rstrip("\n") + "\n")
