"""Shadow scoring's cost (issue 18): the predictor with `SHADOW_ALIAS=Challenger` scoring every request
(`SHADOW_SAMPLE_RATE=1`) against the same predictor without a shadow, in rounds A B A B on one machine.

    python -m bench.shadow [--models logreg,forest] [--seconds 8] [--rounds 3] [--baseline REV]

Each model gets a Challenger version (the same estimator retrained: the same work as production). Goals:
req/s at 64 connections with shadowing ÷ without >= 0.6 (the model work doubles, the HTTP work must not),
p50 at 1 connection with ÷ without <= 1.1. Writes `bench/shadow_results.md`; logs stay in `bench/out/`.
`--baseline REV` also runs that commit's shadowed predictor (exported as `python -m bench.profile` exports
it), interleaved with the other two, so a change's effect is seen in one run under the same load.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow

from bench.models import TARGET, BenchModel, bench_frame, estimators, register, tracking_uri
from bench.profile import exported
from bench.servers import Server, ours
from bench.throughput import ModelRun, measure

HERE = Path(__file__).parent
SHADOW = "shadow"
PLAIN = "plain"
BEFORE = "shadow-before"


@dataclass
class ShadowServer(Server):
    """Ready once the shadow version is loaded too (`/model` names it), so every request is shadowed."""

    def wait_ready(self, timeout: float = 240) -> None:
        super().wait_ready(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shadow = httpx.get(self.url + "/model", timeout=5).json().get("shadow") or {}
            if shadow.get("version"):
                return
            time.sleep(0.25)
        raise RuntimeError(f"{self.label}: the shadow version did not load in {timeout:.0f}s:\n{self.log_tail()}")


def shadowed_server(base: Server) -> ShadowServer:
    return ShadowServer(**{f: getattr(base, f) for f in Server.__dataclass_fields__ if f not in ("proc", "_log")})


def challenger(model: BenchModel, uri: str) -> str:
    """A Challenger version of the model: the same estimator retrained (reused when it exists)."""
    from mlflow import MlflowClient

    from training.train import train_and_register

    client = MlflowClient(uri)
    try:
        return str(client.get_model_version_by_alias(model.name, "Challenger").version)
    except mlflow.exceptions.MlflowException:
        _, estimator = estimators()[model.key]
        result = train_and_register(model.name, bench_frame(), TARGET, estimator=estimator, tracking_uri=uri)
        return str(result.version)


def ratios(run: ModelRun, connections: int, figure: str, key: str = SHADOW) -> list[float]:
    shadowed, plain = run.server(key), run.server(PLAIN)
    if shadowed is None or plain is None:
        return []
    pairs = zip(shadowed.samples.get(connections, []), plain.samples.get(connections, []), strict=False)
    return [getattr(a, figure) / getattr(b, figure) for a, b in pairs if getattr(b, figure)]


def table(runs: list[ModelRun], low: int, high: int, baseline: str | None = None) -> list[str]:
    lines = [
        f"| model | req/s c={high} shadow / plain | ratio (goal >= 0.6) | p50 c={low} ms shadow / plain "
        "| ratio (goal <= 1.1) |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        shadowed, plain = run.server(SHADOW), run.server(PLAIN)
        if shadowed is None or plain is None:
            continue

        rps = [median([s.rps for s in srv.samples.get(high, [])]) for srv in (shadowed, plain)]
        p50 = [median([s.p50_ms for s in srv.samples.get(low, [])]) for srv in (shadowed, plain)]
        rps_ratio = median(ratios(run, high, "rps"))
        p50_ratio = median(ratios(run, low, "p50_ms"))
        lines.append(
            f"| {run.model.label} | {rps[0]:.0f} / {rps[1]:.0f} | {rps_ratio:.2f} "
            f"{'met' if rps_ratio >= 0.6 else 'MISSED'} | {p50[0]:.2f} / {p50[1]:.2f} | {p50_ratio:.2f} "
            f"{'met' if p50_ratio <= 1.1 else 'MISSED'} |"
        )
    if baseline is not None:
        lines += ["", f"The same ratios for commit {baseline}, run interleaved with the above:", ""]
        lines += [f"| model | req/s c={high} ratio @{baseline} | p50 c={low} ratio @{baseline} |", "|---|---|---|"]
        for run in runs:
            rps_ratio, p50_ratio = (median(ratios(run, c, f, BEFORE)) for c, f in ((high, "rps"), (low, "p50_ms")))
            lines.append(f"| {run.model.label} | {rps_ratio:.2f} | {p50_ratio:.2f} |")
    return lines


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shadow", description=__doc__)
    parser.add_argument("--models", default="logreg,forest", help="any of logreg, forest, hgb")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="A B A B rounds")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="registry, logs")
    parser.add_argument("--results", type=Path, default=HERE / "shadow_results.md")
    parser.add_argument("--baseline", metavar="REV", help="also run this commit's shadowed predictor, interleaved")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("mlflow", "alembic", "training", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    out: Path = args.out.resolve()
    uri = tracking_uri(out)
    runs = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]
    before = exported(args.baseline, out) if args.baseline else None
    for model in register(out, tuple(args.models.split(","))):
        shadow_version = challenger(model, uri)
        logging.info("%s: production v%s, Challenger v%s", model.name, model.version, shadow_version)
        plain = ours(model, uri, out, key=PLAIN, label="aliasserve, no shadow")
        base = ours(model, uri, out, key=SHADOW, label="aliasserve, 100% shadowed", SHADOW_ALIAS="Challenger")
        under_test = [shadowed_server(base), plain]
        if before is not None:
            label = f"aliasserve @{before[0]}, 100% shadowed"
            old = shadowed_server(ours(model, uri, out, key=BEFORE, label=label, SHADOW_ALIAS="Challenger"))
            old.args = [str(before[1] / ".venv" / "bin" / "python"), "-m", "service"]
            old.cwd = before[1]
            under_test.append(old)
        runs.append(measure(model, under_test, (1, 64), args.seconds, args.rounds))
    text = "\n".join(
        [
            "# Shadow scoring's cost",
            "",
            f"`python -m bench.shadow --seconds {args.seconds:g} --rounds {args.rounds}"
            f"{f' --baseline {args.baseline}' if args.baseline else ''}` on {started}: the predictor "
            "(defaults, COMPILE=auto, capture on) with `SHADOW_ALIAS=Challenger`, `SHADOW_SAMPLE_RATE=1` ÷ the same "
            "without a shadow; one-row requests; server on CPU 0, wrk on CPU 1; medians of per-round ratios. "
            f"Load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f} (other work shows here).",
            "",
            *table(runs, 1, 64, before[0] if before is not None else None),
            "",
        ]
    )
    args.results.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
