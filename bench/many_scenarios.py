"""What the many-models bench does with its registry: memory, mixed traffic, an alias move, a failed load."""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from bench.load import LoadResult, run_wrk
from bench.many_alone import alone
from bench.many_reads import Background, Probe, logged_load_s, reload_failures, rss_mib, served, serving, wait_for
from bench.many_registry import ALIAS, ManyModels
from bench.servers import Server, clean_env, free_port

__all__ = ["CONNECTIONS", "MANY_SCRIPT", "Figures", "ManyBench", "Probe", "served", "serving", "wait_for"]

log = logging.getLogger(__name__)
MANY_SCRIPT = Path(__file__).resolve().parent / "many.lua"
CONNECTIONS = 64
STALLED = 1.5
"""A wrk run that lasted this many times its length was stalled: the round is measured again (`stalled`)."""
RETRIES = 2
INTERVAL_S = 2.0
"""RELOAD_INTERVAL_S of the served models: the alias move is seen within this (jittered by up to 20%)."""


@dataclass
class Figures:
    count: int
    seconds: float
    rounds: int
    interval_s: float = INTERVAL_S
    window_s: float | None = None
    """Length of the wrk runs around the alias move and the failed load; None: `default_window()`."""
    rss_mib: dict[int, float] = field(default_factory=dict)
    """Resident set of the predictor serving the first k models, once all k serve."""
    memory_mb: dict[int, float] = field(default_factory=dict)
    """Sum of `/model` `memory_mb` over the k models (what the predictor measured each version holds)."""
    start_s: dict[int, float] = field(default_factory=dict)
    all_serving: bool | None = None
    many: list[dict[str, Any]] = field(default_factory=list)
    one: list[dict[str, Any]] = field(default_factory=list)
    move_s: float | None = None
    move_load_s: float | None = None
    """The new version's load, as the predictor logged it ("serving NAME version V (was W) after X s")."""
    move_failed: int | None = None
    p99_before_ms: float | None = None
    p99_during_ms: float | None = None
    broken_failed: int | None = None
    broken_others_serving: bool | None = None
    broken_failures_counted: float | None = None
    broken_still_serving: str | None = None
    problems: list[str] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)
    """Rounds measured again because a wrk run outlasted its length (`STALLED`), and by how much."""

    def window(self) -> float:
        """The runs cover the move: at least three reload intervals and a load (`--window` in a smoke test)."""
        return self.window_s if self.window_s is not None else max(self.seconds, 3 * INTERVAL_S + 6)

    def ratio(self) -> float | None:
        pairs = [m["rps"] / o["rps"] for m, o in zip(self.many, self.one, strict=False) if o["rps"]]
        return statistics.median(pairs) if pairs else None

    def rss_per_model_mib(self) -> float | None:
        if len(self.rss_mib) < 2:
            return None
        low, high = min(self.rss_mib), max(self.rss_mib)
        return (self.rss_mib[high] - self.rss_mib[low]) / (high - low)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio(), "rss_per_model_mib": self.rss_per_model_mib()}


def stalled(round_no: int, seconds: float, runs: tuple[LoadResult, ...]) -> str | None:
    """Why the round's runs cannot be kept, or None: one lasted over `STALLED` times its length, so wrk's own
    loop did not run (the machine paused: a VM snapshot paused this one ~19 s at 07:29 on 2026-12-01, the
    kernel logging "crng reseeded due to virtual machine fork") or the server stopped answering."""
    longest = max(run.seconds for run in runs)
    if longest <= STALLED * seconds:
        return None
    rates = ", ".join(f"{run.rps:.0f}" for run in runs)
    return f"round {round_no + 1}: a {seconds:g} s run lasted {longest:.1f} s ({rates} req/s)"


def _result(result: LoadResult) -> dict[str, Any]:
    return {**asdict(result), "rps": result.rps}


class ManyBench:
    def __init__(self, models: ManyModels, tracking_uri: str, out: Path, figures: Figures) -> None:
        self.models = models
        self.uri = tracking_uri
        self.out = out
        self.figures = figures
        self.body = json.dumps(
            {"dataframe_split": {"columns": list(models.row), "data": [list(models.row.values())]}}
        ).encode()
        self.client = MlflowClient(tracking_uri)

    def run(self, sizes: tuple[int, ...]) -> None:
        *smaller, everyone = sizes
        for k in smaller:
            service = self.start(k)
            service.stop()
        many = self.start(everyone)
        try:
            self.figures.all_serving = True
            one = self.service(1, key="one")
            one.start()
            try:
                one.wait_ready(timeout=600)
                self.mixed_traffic(many, one)
            finally:
                one.stop()
            self.move_alias(many)
            self.broken_version(many)
        finally:
            many.stop()

    def service(self, k: int, key: str | None = None) -> Server:
        port = free_port()
        key = key or f"many-{k}"
        env = clean_env(
            MODEL_FILTER=self.models.selection(k),
            MODEL_ALIAS=ALIAS,
            MLFLOW_TRACKING_URI=self.uri,
            HOST="127.0.0.1",
            PORT=str(port),
            LOG_FORMAT="text",
            RELOAD_INTERVAL_S=f"{INTERVAL_S:g}",
            CAPTURE_URI=str(self.out / "capture" / key),
        )
        args = [sys.executable, "-m", "service"]
        return Server(key, key, args, env, port, "/health/ready", "/invocations", self.body, self.out / f"{key}.log")

    def start(self, k: int) -> Server:
        """A predictor serving the first k models, its RSS and measured memory noted once all k serve."""
        service = self.service(k)
        started = time.monotonic()
        service.start()
        try:
            service.wait_ready(timeout=900)
            names = self.models.names[:k]
            wait_for(lambda: all(served(service).get(n, {}).get("version") for n in names), 600, f"{k} models serving")
        except BaseException:
            service.stop()
            raise
        self.figures.start_s[k] = time.monotonic() - started
        self.figures.rss_mib[k] = rss_mib(service)
        self.figures.memory_mb[k] = sum(e.get("memory_mb") or 0.0 for e in served(service).values())
        log.info("%d models: RSS %.1f MiB, measured %.2f MB", k, self.figures.rss_mib[k], self.figures.memory_mb[k])
        return service

    def paths_file(self, names: list[str]) -> str:
        path = self.out / f"paths-{len(names)}-{names[0]}.txt"
        path.write_text("".join(f"/invocations/{name}\n" for name in names))
        return str(path)

    def mixed(self, service: Server, names: list[str], seconds: float) -> LoadResult:
        script_args = (self.paths_file(names),)
        return run_wrk(service.url, self.body, CONNECTIONS, seconds, script=MANY_SCRIPT, script_args=script_args)

    def mixed_traffic(self, many: Server, one: Server) -> None:
        names = self.models.names
        self.mixed(many, names, 1)  # warm-up
        run_wrk(one.url + "/invocations", self.body, CONNECTIONS, 1)
        for round_no in range(self.figures.rounds):  # each measured alone: bench/many_alone.py
            for attempt in range(RETRIES + 1):
                mixed = alone(many, [one], lambda: self.mixed(many, names, self.figures.seconds))
                single = alone(
                    one, [many], lambda: run_wrk(one.url + "/invocations", self.body, CONNECTIONS, self.figures.seconds)
                )
                note = stalled(round_no, self.figures.seconds, (mixed, single))
                if note is None:
                    break
                last = attempt == RETRIES
                self.figures.stalled.append(note + (": kept, no retry left" if last else ": measured again"))
                log.warning("%s", self.figures.stalled[-1])
                if last:
                    break
            self.figures.many.append(_result(mixed))
            self.figures.one.append(_result(single))
            log.info(
                "round %d: %d models %.0f req/s, one model %.0f req/s", round_no + 1, len(names), mixed.rps, single.rps
            )

    def move_alias(self, many: Server) -> None:
        """The first model's alias moves to its spare version under traffic over the others."""
        moved, others = self.models.names[0], self.models.names[1:]
        window = self.figures.window()
        before = alone(many, [], lambda: self.mixed(many, others, window))
        many.wait_idle()
        during = self.under_traffic(many, others, window)
        started = time.monotonic()
        self.client.set_registered_model_alias(moved, ALIAS, self.models.spare_version)
        probe = Probe(many, moved, self.body)
        wait_for(lambda: probe.check() == self.models.spare_version, 120, f"{moved} serving its new version")
        self.figures.move_s = time.monotonic() - started
        self.figures.move_load_s = logged_load_s(many, moved, self.models.spare_version)
        result = during.join_result()
        self.figures.move_failed = result.errors + probe.failed
        self.figures.p99_before_ms, self.figures.p99_during_ms = before.p99_ms, result.p99_ms
        log.info("alias move: %.2f s, failed %d", self.figures.move_s, self.figures.move_failed)

    def broken_version(self, many: Server) -> None:
        """The second model's alias moves to a version that cannot load, under traffic over the others."""
        broken = self.models.names[1 % len(self.models.names)]
        others = [n for n in self.models.names if n != broken]
        before = served(many)[broken].get("version")
        during = self.under_traffic(many, others, self.figures.window())
        self.client.set_registered_model_alias(broken, ALIAS, self.models.broken_version)
        self.figures.broken_failures_counted = wait_for(
            lambda: reload_failures(many, broken), 120, "the failed load counted"
        )
        result = during.join_result()
        now = served(many)
        self.figures.broken_failed = result.errors
        self.figures.broken_others_serving = all(now.get(n, {}).get("version") for n in others)
        self.figures.broken_still_serving = f"{now.get(broken, {}).get('version')} (was {before})"

    def under_traffic(self, service: Server, names: list[str], seconds: float) -> Background:
        background = Background(lambda: self.mixed(service, names, seconds))
        time.sleep(0.5)  # let wrk connect before the change under test
        return background
