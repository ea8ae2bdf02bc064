"""One `wrk` run pinned to CPU 1: a one-row JSON POST, fixed duration and connection count."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "post.lua"
LOAD_CPU = "1"


@dataclass(frozen=True)
class LoadResult:
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    """Socket errors, time-outs and non-2xx answers."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    body: bytes,
    connections: int,
    seconds: float,
    timeout_s: float = 30.0,
    script: Path = SCRIPT,
    script_args: tuple[str, ...] = (),
) -> LoadResult:
    """`script` gets the body's file and then `script_args` (bench/many.lua: a file of paths to pick from)."""
    with tempfile.NamedTemporaryFile(prefix="bench-body-", suffix=".json") as file:
        file.write(body)
        file.flush()
        args = [
            "taskset",
            "-c",
            LOAD_CPU,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            f"--timeout={timeout_s:g}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            file.name,
            *script_args,
        ]
        done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + timeout_s + 30)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        connections, data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000, data["p99_us"] / 1000, errors
    )
