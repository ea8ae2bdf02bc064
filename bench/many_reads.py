"""What the many-models bench reads from a running predictor and the machine: `/model`, metrics, RSS, its log;
a wrk run in the background; a probe of one model; waiting for a condition."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.load import LoadResult
from bench.servers import Server

log = logging.getLogger(__name__)


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
    return service.status_kib("VmRSS") / 1024


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
