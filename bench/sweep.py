"""`python -m bench.sweep`: the predictor alone under several batching settings, A B A B, to pick defaults.

Prints (and writes `bench/out/sweep.md`) req/s, p50 and p99 per `MAX_BATCH_SIZE` / `MAX_BATCH_WAIT_MS`
pair and connection count, for both benchmark models.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench import servers
from bench.models import register, tracking_uri
from bench.report import _fmt, _median
from bench.throughput import ModelRun, measure

HERE = Path(__file__).resolve().parent
SETTINGS = ((1, 0.0), (8, 0.0), (32, 0.0), (64, 0.0), (128, 0.0), (32, 2.0), (64, 5.0))


def table(runs: list[ModelRun], connections: tuple[int, ...]) -> list[str]:
    head = ["model", "MAX_BATCH_SIZE / MAX_BATCH_WAIT_MS"]
    head += [f"c={c} {what}" for c in connections for what in ("req/s", "p50 ms", "p99 ms")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        for i, server in enumerate(run.servers):
            cells = [run.model.label if i == 0 else "", server.label]
            for c in connections:
                samples = server.samples.get(c, [])
                cells += [
                    _fmt(_median([r.rps for r in samples])),
                    _fmt(_median([r.p50_ms for r in samples]), 2),
                    _fmt(_median([r.p99_ms for r in samples])),
                ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", default="1,8,64")
    parser.add_argument("--models", default="logreg,forest")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("mlflow", "alembic", "training", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    out: Path = args.out.resolve()
    connections = tuple(int(c) for c in args.connections.split(","))
    uri = tracking_uri(out)
    runs = []
    for model in register(out, tuple(args.models.split(","))):
        under_test = [
            servers.ours(
                model, uri, out, key=f"b{size}-w{wait:g}", label=f"{size} / {wait:g}",
                MAX_BATCH_SIZE=str(size), MAX_BATCH_WAIT_MS=str(wait),
            )
            for size, wait in SETTINGS
        ]  # fmt: skip
        runs.append(measure(model, under_test, connections, args.seconds, args.rounds))
    text = "\n".join(table(runs, connections))
    (out / "sweep.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
