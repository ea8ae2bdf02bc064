"""What the many-models bench does with its registry: memory, mixed traffic, an alias move, a failed load."""

from __future__ import annotations

import json
import logging
import re
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from bench.load import LoadResult, run_wrk
from bench.many_alone import alone
from bench.many_registry import ALIAS, ManyModels
from bench.servers import Server, clean_env, free_port, process_tree

log = logging.getLogger(__name__)
MANY_SCRIPT = Path(__file__).resolve().parent / "many.lua"
CONNECTIONS = 64
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
            mixed = alone(many, [one], lambda: self.mixed(many, names, self.figures.seconds))
            single = alone(
                one, [many], lambda: run_wrk(one.url + "/invocations", self.body, CONNECTIONS, self.figures.seconds)
            )
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


class Background(threading.Thread):
    """A wrk run in a thread, so the bench can act on the registry while the traffic runs."""

    def __init__(self, run: Any) -> None:
        super().__init__(daemon=True)
        self._run = run
        self.result: LoadResult | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self._run()
        except BaseException as exc:
            self.error = exc

    def join_result(self) -> LoadResult:
        self.join()
        if self.result is None:
            raise RuntimeError(f"wrk failed: {self.error}")
        return self.result


class Probe:
    """One model's own requests during its alias move: the version that answered, and failures counted."""

    def __init__(self, service: Server, name: str, body: bytes) -> None:
        self.url = f"{service.url}/invocations/{name}"
        self.service = service
        self.name = name
        self.body = body
        self.failed = 0

    def check(self) -> str | None:
        answer = httpx.post(self.url, content=self.body, headers={"Content-Type": "application/json"}, timeout=30)
        if answer.status_code != 200:
            self.failed += 1
        version = serving(self.service).get(self.name)
        return str(version) if version is not None else None


def serving(service: Server) -> dict[str, str]:
    """The version each model serves, from `/health/ready` (`{}` while not ready).

    What the bench polls under traffic: `/model` describes every model in full (signatures and all: with
    100 models ~0.1-0.4 s of the event loop a call, measured on this machine) and would stall the very
    requests whose latency is measured, five times a second.
    """
    answer = httpx.get(service.url + "/health/ready", timeout=30)
    if answer.status_code != 200:
        return {}
    body = answer.json()
    models: dict[str, str] = body.get("models") or {body["model"]: body["version"]}
    return models


def served(service: Server) -> dict[str, dict[str, Any]]:
    """`/model` by model name (one model answers its object, several `{"models": [...]}`)."""
    body = httpx.get(service.url + "/model", timeout=30).json()
    entries = body.get("models", [body])
    return {entry["name"]: entry for entry in entries}


def reload_failures(service: Server, name: str) -> float:
    text = httpx.get(service.url + "/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "model_reloads_total"
                and labels.get("model") == name
                and labels.get("result") == "failure"
            ):
                return float(sample.value)
    return 0.0


def rss_mib(service: Server) -> float:
    """VmRSS summed over the predictor's process tree, in MiB."""
    assert service.proc is not None
    total_kib = 0
    for pid in process_tree(service.proc.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kib += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kib / 1024


def logged_load_s(service: Server, name: str, version: str) -> float | None:
    pattern = re.compile(rf"serving {re.escape(name)} version {re.escape(version)} \(was [^)]*\) after ([\d.]+)s")
    found = pattern.findall(service.log_tail(2_000_000))
    return float(found[-1]) if found else None


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if value := predicate():
                return value
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"no {what} after {timeout:.0f} s (last error: {last!r})")
