"""Throughput and latency of every server on one model, measured A B A B in one run.

For each connection count, every server is loaded in turn, and the whole turn is repeated `rounds`
times: the machine's speed drifts by tens of percent within minutes, so a server is only ever compared
with measurements taken beside it, and the report quotes medians over the rounds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.load import LoadResult, run_wrk
from bench.models import BenchModel
from bench.servers import Server

log = logging.getLogger(__name__)


@dataclass
class ServerRun:
    key: str
    label: str
    endpoint: str
    samples: dict[int, list[LoadResult]] = field(default_factory=dict)
    peak_rss_mib: float | None = None
    problem: str | None = None
    """Why this server has no (or partial) figures: failed to start, crashed, wrong answers."""
    compilation: dict[str, Any] | None = None
    """This project's `/model` `compilation` (agreement measured and load seconds added), when it has one."""


@dataclass
class ModelRun:
    model: BenchModel
    servers: list[ServerRun]

    def server(self, key: str) -> ServerRun | None:
        return next((s for s in self.servers if s.key == key), None)


def predictions_of(server: Server) -> list[object]:
    """The one-row answer, in a shape comparable across protocols."""
    response = server.predict_once()
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    body = response.json()
    if "predictions" in body:
        return list(body["predictions"])
    data = body["outputs"][0]["data"]
    return list(data)


def measure(
    model: BenchModel, servers: list[Server], connections: tuple[int, ...], seconds: float, rounds: int
) -> ModelRun:
    runs = {s.key: ServerRun(s.key, s.label, s.predict_path) for s in servers}
    live: list[Server] = []
    for server in servers:
        try:
            server.start()
        except OSError as exc:
            runs[server.key].problem = f"could not start: {exc}"
    for server in servers:
        if runs[server.key].problem:
            continue
        try:
            server.wait_ready()
            live.append(server)
            if server.ready_path == "/health/ready":
                runs[server.key].compilation = httpx.get(server.url + "/model", timeout=10).json().get("compilation")
        except RuntimeError as exc:
            runs[server.key].problem = "did not start: " + _last_line(str(exc))
            log.error("%s on %s: %s", server.label, model.name, exc)
    answers = {}
    for server in list(live):
        try:
            answers[server.key] = predictions_of(server)
        except Exception as exc:
            runs[server.key].problem = f"no valid answer: {exc}"
            live.remove(server)
    if len({json.dumps(a) for a in answers.values()}) > 1:
        log.warning("servers disagree on the benchmark row: %s", answers)
    try:
        for connections_now in connections:
            for server in live:
                run_wrk(server.url + server.predict_path, server.body, connections_now, 1)  # warm-up
                server.wait_idle()
            for round_no in range(rounds):
                for server in list(live):
                    if not _alive_or_restarted(server, runs[server.key]):
                        live.remove(server)
                        continue
                    result = run_wrk(server.url + server.predict_path, server.body, connections_now, seconds)
                    if not server.wait_idle():  # its backlog would run beside the next server's measurement
                        log.warning("%s was still busy 30 s after its run", server.label)
                    if server.proc is None or server.proc.poll() is not None:
                        log.warning("%s stopped during the run: its figures of this round are dropped", server.label)
                        continue
                    runs[server.key].samples.setdefault(connections_now, []).append(result)
                    log.info(
                        "%-6s %-14s c=%-3d round %d: %7.1f req/s  p50 %7.2f ms  p99 %8.2f ms  errors %d",
                        model.key,
                        server.key,
                        connections_now,
                        round_no + 1,
                        result.rps,
                        result.p50_ms,
                        result.p99_ms,
                        result.errors,
                    )
        for server in live:
            runs[server.key].peak_rss_mib = server.peak_rss_mib()
    finally:
        for server in servers:
            server.stop()
    return ModelRun(model, [runs[s.key] for s in servers])


def _alive_or_restarted(server: Server, run: ServerRun) -> bool:
    """A server that stopped (crashed, or was stopped from outside) is started again once, and noted."""
    if server.proc is not None and server.proc.poll() is None:
        return True
    reason = _last_line(server.log_tail())
    if run.problem is not None:
        run.problem += f"; stopped again ({reason}): left out"
        return False
    run.problem = f"stopped mid-run ({reason}); restarted, peak RSS is the restarted process's"
    log.warning("%s: %s", server.label, run.problem)
    server.stop()
    try:
        server.start()
        server.wait_ready()
        run_wrk(server.url + server.predict_path, server.body, 8, 1)
    except (OSError, RuntimeError) as exc:
        run.problem += f"; restart failed: {_last_line(str(exc))}"
        return False
    return True


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def save(runs: list[ModelRun], path: Path) -> None:
    data = [
        {
            "model": run.model.key,
            "name": run.model.name,
            "servers": [
                {
                    "key": s.key,
                    "label": s.label,
                    "endpoint": s.endpoint,
                    "peak_rss_mib": s.peak_rss_mib,
                    "problem": s.problem,
                    "compilation": s.compilation,
                    "samples": {str(c): [r.__dict__ for r in rs] for c, rs in s.samples.items()},
                }
                for s in run.servers
            ],
        }
        for run in runs
    ]
    path.write_text(json.dumps(data, indent=2))
