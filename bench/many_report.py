"""The many-models bench's table: goal / measured / target / met, then the memory by number of models."""

from __future__ import annotations

import statistics

from bench.many_scenarios import CONNECTIONS, Figures


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "—" if value is None else format(value, fmt)


def goal_rows(f: Figures) -> list[str]:
    n = f.count
    per_model = f.rss_per_model_mib()
    measured_per_model = f.memory_mb[n] / n if n in f.memory_mb else None
    start = f.start_s.get(n)
    ratio = f.ratio()
    many_rps = [r["rps"] for r in f.many]
    one_rps = [r["rps"] for r in f.one]
    p99_ratio = f.p99_during_ms / f.p99_before_ms if f.p99_during_ms and f.p99_before_ms else None
    rounds = ", ".join(f"{m / o:.2f}" for m, o in zip(many_rps, one_rps, strict=False) if o)
    move_bound = 1.2 * f.interval_s + (f.move_load_s or 0.0) + 1.0
    return [
        "| goal | measured | target | met |",
        "|---|---|---|---|",
        f"| {n} registered logistic regressions in one process, each following `@Production` | "
        f"{'all serving' if f.all_serving else 'not all serving'} {_num(start, '.0f')} s after start; "
        f"RSS {_num(f.rss_mib.get(n), '.0f')} MiB, {_num(per_model, '.2f')} MiB per added model "
        f"(the predictor's own measure: {_num(measured_per_model, '.3f')} MB per model) | "
        f"all serving; RSS per added model reported | {_met(f.all_serving)} |",
        f"| mixed traffic over the {n} at c={CONNECTIONS}, req/s ÷ one-model service | "
        f"{_num(ratio)} ({_num(_median(many_rps), '.0f')} vs {_num(_median(one_rps), '.0f')} req/s, "
        f"median of {len(f.many)} round(s); per round {rounds}) "
        f"| ≥ 0.8 | {_met(None if ratio is None else ratio >= 0.8)} |",
        f"| moving one model's alias under that traffic: new version serving | {_num(f.move_s)} s "
        f"(RELOAD_INTERVAL_S={f.interval_s:g}, load {_num(f.move_load_s)} s) | "
        f"≤ interval × 1.2 + load + 1 s of `/health/ready` polling ({move_bound:.2f} s) | "
        f"{_met(None if f.move_s is None else f.move_s <= move_bound)} |",
        f"| … failed requests | {_num(f.move_failed, 'd') if f.move_failed is not None else '—'} | 0 | "
        f"{_met(None if f.move_failed is None else f.move_failed == 0)} |",
        f"| … p99 of the other models, during ÷ before | {_num(p99_ratio)} ({_num(f.p99_during_ms)} ms vs "
        f"{_num(f.p99_before_ms)} ms) | ≤ 1.2 | {_met(None if p99_ratio is None else p99_ratio <= 1.2)} |",
        f"| one model whose new version fails to load: the {n - 1} others | "
        f"failed requests {_num(f.broken_failed, 'd') if f.broken_failed is not None else '—'}, "
        f"{'all' if f.broken_others_serving else 'not all'} still serving; the model still serves version "
        f"{f.broken_still_serving or '—'} | 0 failed, all serving | "
        f"{_met(None if f.broken_failed is None else f.broken_failed == 0 and bool(f.broken_others_serving))} |",
        f'| … the failure counted and alerted | `model_reloads_total{{result="failure"}}` = '
        f"{_num(f.broken_failures_counted, '.0f')} (alert `AliasserveReloadFailing` fires on its increase) | "
        f"counted | {_met(None if f.broken_failures_counted is None else f.broken_failures_counted >= 1)} |",
    ]


def memory_rows(f: Figures) -> list[str]:
    rows = [
        "| models served | RSS (MiB) | RSS over one model (MiB) | sum of `/model` `memory_mb` "
        "| start to all serving (s) |",
        "|---|---|---|---|---|",
    ]
    base = f.rss_mib.get(min(f.rss_mib)) if f.rss_mib else None
    for k in sorted(f.rss_mib):
        over = f.rss_mib[k] - base if base is not None else None
        rows.append(
            f"| {k} | {f.rss_mib[k]:.1f} | {_num(over, '.1f')} | {_num(f.memory_mb.get(k), '.2f')} | "
            f"{_num(f.start_s.get(k), '.1f')} |"
        )
    return rows


def document(f: Figures, header: str) -> list[str]:
    return [
        "# Many models in one process (issue 17)",
        "",
        header,
        "",
        f"{f.count} registered logistic regressions (breast_cancer, one row of 30 floats per request) in a real "
        "`mlflow server` (sqlite), made from one logged model; the predictor serves them all through "
        "`MODEL_FILTER` at `MODEL_ALIAS=Production`, defaults otherwise (capture on). Mixed traffic: wrk with "
        "`bench/many.lua`, a model picked at random per request (`POST /invocations/{name}`); the one-model "
        "service serves the first of them on `POST /invocations`.",
        "",
        *goal_rows(f),
        "",
        "## Memory by number of models served",
        "",
        "RSS (VmRSS) of the predictor once every selected model serves, one process per row. `memory_mb` is what "
        "the predictor measured each version holds (service/model_size.py: the objects only it keeps alive); "
        "the RSS per added model also holds each model's follower, queue, model thread and MLflow metadata.",
        "",
        *memory_rows(f),
        "",
        *(["## Rounds measured again", "", *[f"- {s}" for s in f.stalled], ""] if f.stalled else []),
        *(["## Problems", "", *[f"- {p}" for p in f.problems], ""] if f.problems else []),
    ]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
