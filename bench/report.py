"""`bench/results.md`: the table of the issue, the ratios (medians of per-round ratios), the goals."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.load import LoadResult
from bench.throughput import ModelRun, ServerRun

OURS, MLFLOW, MLSERVER, MLSERVER_BATCH = "ours", "mlflow", "mlserver", "mlserver-batch"
OURS_NATIVE, ECHO, BASELINE = "ours-native", "echo", "baseline"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _figure(run: ServerRun, connections: int, pick: Callable[[LoadResult], float]) -> float | None:
    return _median([pick(r) for r in run.samples.get(connections, [])])


def ratio(
    ours: ServerRun | None, peer: ServerRun | None, connections: int, pick: Callable[[LoadResult], float]
) -> float | None:
    """Median over rounds of ours / peer, each round's pair measured side by side."""
    if ours is None or peer is None:
        return None
    pairs = zip(ours.samples.get(connections, []), peer.samples.get(connections, []), strict=False)
    return _median([pick(a) / pick(b) for a, b in pairs if pick(b) > 0])


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _rps(r: LoadResult) -> float:
    return r.rps


def _p50(r: LoadResult) -> float:
    return r.p50_ms


def _p99(r: LoadResult) -> float:
    return r.p99_ms


def table(runs: list[ModelRun], connections: tuple[int, ...]) -> list[str]:
    head = ["model", "server"]
    for c in connections:
        head += [f"c={c} req/s", f"c={c} p50 ms", f"c={c} p99 ms"]
    head += ["errors", "peak RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        for i, server in enumerate(run.servers):
            cells = [run.model.label if i == 0 else "", server.label]
            if server.problem and not server.samples:
                cells += ["—"] * (3 * len(connections)) + ["—", "—"]
            else:
                for c in connections:
                    cells += [
                        _fmt(_figure(server, c, _rps)),
                        _fmt(_figure(server, c, _p50), 2),
                        _fmt(_figure(server, c, _p99)),
                    ]
                errors = sum(r.errors for rs in server.samples.values() for r in rs)
                cells += [str(errors), _fmt(server.peak_rss_mib, 0)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


@dataclass(frozen=True)
class Goal:
    text: str
    value: float | None
    target: str

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        op, bound = self.target.split(" ")
        return self.value >= float(bound) if op == ">=" else self.value <= float(bound)


def goals(runs: list[ModelRun], high: int, low: int) -> list[Goal]:
    by_key = {run.model.key: run for run in runs}
    found: list[Goal] = []
    forest, logreg = by_key.get("forest"), by_key.get("logreg")
    if forest is not None:
        ours, mlflow, batch = forest.server(OURS), forest.server(MLFLOW), forest.server(MLSERVER_BATCH)
        found += [
            Goal(f"forest, c={high}: req/s vs mlflow models serve", ratio(ours, mlflow, high, _rps), ">= 30"),
            Goal(f"forest, c={high}: req/s vs MLServer (batching)", ratio(ours, batch, high, _rps), ">= 2"),
            Goal(f"forest, c={high}: p99 vs MLServer (batching)", ratio(ours, batch, high, _p99), "<= 0.5"),
        ]
        rss_ours = ours.peak_rss_mib if ours else None
        rss_mlflow = mlflow.peak_rss_mib if mlflow else None
        memory = rss_ours / rss_mlflow if rss_ours and rss_mlflow else None
        found.append(Goal("forest: peak RSS vs mlflow models serve", memory, "<= 1.5"))
    if logreg is not None:
        ours, mlflow, batch = logreg.server(OURS), logreg.server(MLFLOW), logreg.server(MLSERVER_BATCH)
        found += [
            Goal(
                f"logistic regression, c={high}: req/s vs mlflow models serve", ratio(ours, mlflow, high, _rps), ">= 12"
            ),
            Goal(
                f"logistic regression, c={high}: req/s vs MLServer (batching)", ratio(ours, batch, high, _rps), ">= 2"
            ),
            Goal(f"logistic regression, c={low}: p50 vs mlflow models serve", ratio(ours, mlflow, low, _p50), "<= 0.2"),
        ]
    return found


def compile_goals(runs: list[ModelRun], high: int, low: int) -> list[Goal]:
    """Issue 16: compiled (COMPILE=auto, `ours`) against native (`ours-native`), the peers and the bare echo."""
    by_key = {run.model.key: run for run in runs}
    found: list[Goal] = []
    forest, logreg = by_key.get("forest"), by_key.get("logreg")
    if forest is not None:
        ours, native, mlflow = forest.server(OURS), forest.server(OURS_NATIVE), forest.server(MLFLOW)
        rss = (
            ours.peak_rss_mib / native.peak_rss_mib
            if ours and native and ours.peak_rss_mib and native.peak_rss_mib
            else None
        )
        seconds = (ours.compilation or {}).get("seconds") if ours else None
        found += [
            Goal(f"forest, c={low}: p50 compiled ÷ native", ratio(ours, native, low, _p50), "<= 0.2"),
            Goal(f"forest, c={high}: req/s compiled ÷ mlflow models serve", ratio(ours, mlflow, high, _rps), ">= 60"),
            Goal("forest: peak RSS compiled ÷ native", rss, "<= 1.3"),
            Goal("forest: load seconds added by conversion + check", seconds, "<= 5"),
        ]
    if logreg is not None:
        ours, echo = logreg.server(OURS), logreg.server(ECHO)
        found += [
            Goal(f"logistic regression, c={high}: req/s ÷ bare ASGI echo", ratio(ours, echo, high, _rps), ">= 0.25"),
            Goal(f"logistic regression, c={low}: p50 ÷ bare ASGI echo p50", ratio(ours, echo, low, _p50), "<= 3"),
        ]
    return found


def baseline_goals(runs: list[ModelRun], high: int, low: int) -> list[Goal]:
    """Issue 13: no regression of the fast path, COMPILE=off against the baseline commit (also native)."""
    by_key = {run.model.key: run for run in runs}
    found: list[Goal] = []
    if (logreg := by_key.get("logreg")) is not None:
        native, base = logreg.server(OURS_NATIVE), logreg.server(BASELINE)
        found += [
            Goal(f"logistic regression, c={low}: req/s ÷ baseline", ratio(native, base, low, _rps), ">= 0.9"),
            Goal(f"logistic regression, c={low}: p50 ÷ baseline", ratio(native, base, low, _p50), "<= 1.11"),
        ]
    if (forest := by_key.get("forest")) is not None:
        native, base = forest.server(OURS_NATIVE), forest.server(BASELINE)
        found.append(Goal(f"forest, c={high}: req/s ÷ baseline", ratio(native, base, high, _rps), ">= 0.9"))
    return found


def compilation_lines(runs: list[ModelRun]) -> list[str]:
    """What COMPILE=auto found at load for each model (`/model`): runtime proof or the reason it stayed native."""
    lines = [
        "| model | result | runtime | rows checked | max abs diff | labels equal | seconds | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        ours = run.server(OURS)
        found = ours.compilation if ours else None
        if found is None:
            continue
        diff = found.get("max_abs_diff")
        found = {**found, "max_abs_diff": None if diff is None else f"{diff:.2g}"}
        keys = ("result", "runtime", "rows_checked", "max_abs_diff", "labels_equal", "seconds", "reason")
        cells = [found.get(k) if found.get("result") == "compiled" or k != "runtime" else None for k in keys]
        lines.append("| " + " | ".join([run.model.label, *("—" if c is None else str(c) for c in cells)]) + " |")
    return lines


def ratio_table(runs: list[ModelRun], connections: tuple[int, ...]) -> list[str]:
    lines = [
        "| model | peer | "
        + " | ".join(f"c={c} req/s ×" for c in connections)
        + " | "
        + " | ".join(f"c={c} p99 ÷" for c in connections)
        + " |"
    ]
    lines.append("|" + "---|" * (2 + 2 * len(connections)))
    for run in runs:
        ours = run.server(OURS)
        for peer in run.servers:
            if peer.key == OURS:
                continue
            cells = [run.model.label, peer.label]
            cells += [_fmt(ratio(ours, peer, c, _rps), 1) for c in connections]
            cells += [_fmt(ratio(ours, peer, c, _p99), 2) for c in connections]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def goal_lines(found: list[Goal]) -> list[str]:
    lines = ["| goal | measured | target | met |", "|---|---|---|---|"]
    for goal in found:
        verdict = {True: "yes", False: "**no**", None: "n/a"}[goal.met]
        lines.append(f"| {goal.text} | {_fmt(goal.value, 2)} | {goal.target} | {verdict} |")
    return lines


def problems(runs: list[ModelRun]) -> list[str]:
    return [f"- {run.model.label}, {s.label}: {s.problem}" for run in runs for s in run.servers if s.problem]
