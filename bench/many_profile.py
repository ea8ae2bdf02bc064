"""`python -m bench.many_profile`: where the CPU of mixed traffic over many models goes (issue 17).

As `python -m bench.profile` (read its docstring for the method: py-spy on the predictor under wrk, samples
by stage, CPU µs per request), with the many-models bench's setup (bench/many_models.py): N registered
logistic regressions served through `MODEL_FILTER`, wrk posting to `/invocations/{name}` with a model picked
at random per request (bench/many.lua). `--move` also profiles while the first model's alias moves to its
spare version (traffic over the others), so the cost of the load beside serving shows. `--baseline REV`
serves that commit beside this one, interleaved.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import threading
import time
from functools import partial
from pathlib import Path

from bench import profile as spy
from bench.many_alone import alone, beside_load
from bench.many_registry import ALIAS, register_many
from bench.many_scenarios import CONNECTIONS, MANY_SCRIPT, Figures, ManyBench, Probe, served, serving, wait_for
from bench.reload import mlflow_server
from bench.servers import Server

HERE = Path(__file__).resolve().parent
log = logging.getLogger("bench.many_profile")
IDLE_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.many_profile", description=__doc__)
    parser.add_argument("--count", type=int, default=100, help="registered models served")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second (0: wrk only)")
    parser.add_argument("--rounds", type=int, default=1, help="mixed-traffic runs per server, interleaved")
    parser.add_argument("--move", action="store_true", help="also profile during an alias move")
    parser.add_argument("--baseline", metavar="REV", help="also profile this commit, interleaved")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "many-profile")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out: Path = args.out.resolve()
    for stale in out.glob("*"):  # a fresh registry each run; the exported baseline is kept
        if not stale.name.startswith("before-"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    (out / "profile").mkdir(parents=True, exist_ok=True)
    before = spy.exported(args.baseline, out) if args.baseline else None
    registry = mlflow_server(out)
    registry.start()
    profiles: list[spy.Profile] = []
    try:
        registry.wait_ready(timeout=600)
        beside_load(registry)  # the registry off the predictors' CPU: bench/many_alone.py
        models = register_many(registry.url, args.count, (args.count,))
        bench = ManyBench(models, registry.url, out, Figures(args.count, args.seconds, 1))
        under_test: dict[str, Server] = {"after": bench.service(args.count, key="after")}
        if before is not None:
            old = under_test[f"@{before[0]}"] = bench.service(args.count, key="before")
            old.args, old.cwd = [str(before[1] / ".venv" / "bin" / "python"), "-m", "service"], before[1]
        try:
            for server in under_test.values():
                server.start()
            for label, server in under_test.items():
                server.wait_ready(timeout=900)
                wait_for(lambda s=server: len(served(s)) == args.count, 900, f"{args.count} models serving")
                wait_for(lambda s=server: all(e.get("version") for e in served(s).values()), 900, "all versions")
                _idle_cpu(server, label)
                bench.mixed(server, models.names, 2.0)  # warm: every version's cost known
            script = (MANY_SCRIPT, (bench.paths_file(models.names),))
            for _ in range(args.rounds):
                for label, server in under_test.items():  # each alone: bench/many_alone.py
                    ran = alone(
                        server,
                        under_test.values(),
                        partial(
                            spy.profile, server, label, CONNECTIONS, args.seconds, args.rate, out / "profile", script
                        ),
                    )
                    profiles.append(_logged(ran))
            if args.move:
                others = (MANY_SCRIPT, (bench.paths_file(models.names[1:]),))
                for label, server in under_test.items():
                    moving = alone(
                        server,
                        under_test.values(),
                        partial(_during_move, bench, server, f"{label} move", args, out, others),
                    )
                    profiles.append(_logged(moving))
        finally:
            for server in under_test.values():
                server.stop()
    finally:
        registry.stop()
    print("\n".join(spy.table(profiles)))
    return 0


def _logged(ran: spy.Profile) -> spy.Profile:
    cpu_us = ran.cpu_s / max(ran.load.requests, 1) * 1e6
    log.info(
        "%s: %.0f req/s, p50 %.1f ms, p99 %.1f ms, %.0f CPU µs a request, %d errors",
        ran.label,
        ran.load.rps,
        ran.load.p50_ms,
        ran.load.p99_ms,
        cpu_us,
        ran.load.errors,
    )
    return ran


def _idle_cpu(server: Server, label: str) -> None:
    """CPU the predictor spends with no traffic (following N aliases and the selection), as a share of a core."""
    assert server.proc is not None
    before = spy.cpu_seconds(server.proc.pid)
    time.sleep(IDLE_S)
    log.info("%s: %.1f%% of a core with no traffic", label, 100 * (spy.cpu_seconds(server.proc.pid) - before) / IDLE_S)


def _during_move(
    bench: ManyBench,
    server: Server,
    label: str,
    args: argparse.Namespace,
    out: Path,
    script: tuple[Path, tuple[str, ...]],
) -> spy.Profile:
    """Profiled traffic over the others while the first model's alias moves to a version registered for this run.

    A version no server has seen, so each server under test loads it (a version still in memory would swap
    without a load); the server first catches up with where the alias is now (the other server's run moved
    it while this one was stopped), and is idle before the run.
    """
    models = bench.models
    moved = models.names[0]
    client = bench.client
    now = str(client.get_model_version_by_alias(moved, ALIAS).version)
    wait_for(lambda: serving(server).get(moved) == now, 120, f"{moved} serving version {now}")
    server.wait_idle()
    source = f"models:/{moved}/1"  # as bench/many_registry.py registers the spare version
    target = str(client.create_model_version(moved, source, await_creation_for=0).version)
    seconds = max(args.seconds, 12.0)

    def move() -> None:
        time.sleep(2.0)  # py-spy and wrk under way
        client.set_registered_model_alias(moved, ALIAS, target)
        probe = Probe(server, moved, bench.body)
        wait_for(lambda: probe.check() == target, 120, f"{moved} serving version {target}")

    mover = threading.Thread(target=move, daemon=True)
    mover.start()
    result = spy.profile(server, label, CONNECTIONS, seconds, args.rate, out / "profile", script)
    mover.join()
    return result


if __name__ == "__main__":
    sys.exit(main())
