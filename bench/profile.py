"""`python -m bench.profile`: where the microseconds of a one-row request go, by stage, under wrk load.

The predictor is started as the bench starts it (pinned to CPU 0, capture on to a local folder, wrk on
CPU 1, the bench's one-row `dataframe_split` body) and sampled with py-spy (`--nonblocking`, every thread,
idle samples left out) while wrk loads it at each connection count. Each sample is put in the stage of
its deepest frame that belongs to one (`STAGES`, first rule that matches a frame wins for that frame);
a stage's share of the samples times the process's CPU time (from /proc) over the requests answered is
its CPU microseconds per request. Stacks of threads other than the event loop's are named by thread
(model thread, capture writer). Raw py-spy output stays in `bench/out/profile/`. With `--rate 0` (no
py-spy) the CPU is split by thread from /proc instead: the event loop's (the main thread) and the others'.
`--baseline REV` profiles that commit too (exported beside the run with its own locked environment),
interleaved with this one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import servers
from bench.load import LoadResult, run_wrk
from bench.models import register, split_body, tracking_uri

HERE = Path(__file__).resolve().parent
PY_SPY = Path(sys.executable).parent / "py-spy"

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "model",
        ("onnxruntime", "/sklearn/", "loaded_model.py:predict", "compiled.py", "onnx_runtime.py", "linear_form.py"),
    ),
    ("capture", ("capture.py", "pyarrow", "predictor.py:_record")),
    ("metrics", ("prometheus_client",)),
    ("validation", ("schema.py", "table.py", "loaded_model.py:check")),
    ("response", ("mlflow.py:response", "mlflow.py:jsonable", "starlette/responses.py", "prediction_headers")),
    ("parsing", ("protocols/mlflow.py", "read_body", "starlette/requests.py")),
    ("batching hand-off", ("batching.py", "model_thread.py", "predictor.py", "concurrent/futures", "threading.py")),
    ("middleware", ("service/middleware.py", "starlette/middleware", "_exception_handler.py", "datastructures.py")),
    ("routing", ("starlette/routing.py", "fastapi/", "starlette/applications.py", "routes/scoring.py")),
    ("HTTP and event loop", ("uvicorn", "uvloop", "asyncio", "httptools", "server.py")),
)
"""Stage of a frame: `file:function` contains one of the patterns. The deepest frame with a stage decides."""
SPY_ATTEMPTS = 5
LOOP_THREAD = "event loop thread (--rate 0)"
OTHER_THREADS = "other threads (--rate 0)"


def stage_of(frames: list[str]) -> str:
    """`frames` root first, each `function (path:line)` as py-spy's raw format writes them."""
    for frame in reversed(frames):
        name, _, where = frame.rpartition(" (")
        key = f"{where.rsplit(':', 1)[0]}:{name}"
        for stage, patterns in STAGES:
            if any(p in key for p in patterns):
                return stage
    return "other"


def read_samples(path: Path) -> Counter[str]:
    """Samples by stage from py-spy's raw (collapsed) output; stacks of helper threads by thread."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0]
        if "capture-writer" in thread:
            counts["capture (writer thread)"] += int(count)
        elif "model-" in thread:
            counts["model (model thread)" if stage_of(frames[1:]) == "model" else "batching hand-off"] += int(count)
        else:
            counts[stage_of(frames[1:])] += int(count)
    return counts


def cpu_seconds(pid: int) -> float:
    return servers.cpu_ticks(Path(f"/proc/{pid}/stat")) / os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> Counter[str]:
    """CPU clock ticks so far of the event loop's thread (the main one) and of all the others together."""
    ticks: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            used = servers.cpu_ticks(task / "stat")
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
        ticks[LOOP_THREAD if task.name == str(pid) else OTHER_THREADS] += used
    return ticks


@dataclass
class Profile:
    label: str
    connections: int
    load: LoadResult
    cpu_s: float
    samples: Counter[str]

    def us_per_request(self) -> dict[str, float]:
        total = sum(self.samples.values()) or 1
        per_request = self.cpu_s / max(self.load.requests, 1) * 1e6
        if not self.samples:
            return {"not sampled (--rate 0)": per_request}
        return {stage: per_request * n / total for stage, n in self.samples.most_common()}


def profile(
    server: servers.Server,
    label: str,
    connections: int,
    seconds: float,
    rate: int,
    out: Path,
    script: tuple[Path, tuple[str, ...]] | None = None,
) -> Profile:
    """`script`: a wrk script and its arguments (bench/many.lua and a file of paths), else the plain POST."""
    assert server.proc is not None
    pid = server.proc.pid
    raw = out / f"{label.replace(' ', '_').replace('@', '')}-c{connections}.txt"
    if rate <= 0:  # wrk only: CPU and latency, no samples; the CPU split by thread from /proc
        before, threads_before = cpu_seconds(pid), thread_ticks(pid)
        load = _wrk(server, connections, seconds, script)
        used = cpu_seconds(pid) - before
        return Profile(label, connections, load, used, thread_ticks(pid) - threads_before)
    record = ["record", "--pid", str(pid), "--rate", str(rate), "--nonblocking", "--threads", "--format", "raw"]
    for _ in range(SPY_ATTEMPTS):  # py-spy 0.4 sometimes fails to attach ("Failed to find python version")
        spy = subprocess.Popen(
            [str(PY_SPY), *record, "--duration", str(int(seconds) + 2), "--output", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attaches
        if spy.poll() is None:
            break
    before = cpu_seconds(pid)
    load = _wrk(server, connections, seconds, script)
    used = cpu_seconds(pid) - before
    try:
        spy.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:  # seen with a few hundred threads on a loaded machine: keep its samples
        spy.kill()
        spy.wait()
    return Profile(label, connections, load, used, read_samples(raw) if raw.exists() else Counter())


def _wrk(
    server: servers.Server, connections: int, seconds: float, script: tuple[Path, tuple[str, ...]] | None
) -> LoadResult:
    if script is None:
        return run_wrk(server.url + server.predict_path, server.body, connections, seconds)
    return run_wrk(server.url, server.body, connections, seconds, script=script[0], script_args=script[1])


def table(profiles: list[Profile]) -> list[str]:
    helpers = ["model (model thread)", "capture (writer thread)", "other", LOOP_THREAD, OTHER_THREADS]
    stages = [s for s, _ in STAGES] + helpers
    head = "| stage | " + " | ".join(f"{p.label} c={p.connections}" for p in profiles) + " |"
    lines = [head, "|---" * (len(profiles) + 1) + "|"]
    shares = [p.us_per_request() for p in profiles]
    for stage in stages:
        if any(s.get(stage, 0) >= 0.05 for s in shares):
            lines.append(f"| {stage} | " + " | ".join(f"{s.get(stage, 0):.1f}" for s in shares) + " |")
    lines.append("| **CPU µs per request** | " + " | ".join(f"**{sum(s.values()):.1f}**" for s in shares) + " |")
    lines.append("| req/s | " + " | ".join(f"{p.load.rps:,.0f}" for p in profiles) + " |")
    latency = (f"{p.load.p50_ms:.2f} / {p.load.p99_ms:.1f}" for p in profiles)
    lines.append("| p50 / p99 ms | " + " | ".join(latency) + " |")
    return lines


def exported(rev: str, out: Path) -> tuple[str, Path]:
    """`rev` exported (`git archive`, no worktree) to `out/before-<commit>` with its locked environment."""
    commit = subprocess.run(
        ["git", "-C", str(servers.REPO), "rev-parse", "--short", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folder = out / f"before-{commit}"
    if not (folder / "pyproject.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(servers.REPO), "archive", commit], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    subprocess.run(["uv", "sync", "--locked", "--no-dev", "--quiet"], cwd=folder, check=True)
    return commit, folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--models", default="logreg,forest", help="any of logreg, forest, hgb")
    parser.add_argument("--connections", default="1,64")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second (0: wrk only)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="predictor setting")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--baseline", metavar="REV", help="also profile this commit, interleaved (before / after)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    (out / "profile").mkdir(parents=True, exist_ok=True)
    settings = dict(item.split("=", 1) for item in args.env)
    before = exported(args.baseline, out) if args.baseline else None
    profiles = []
    for model in register(out, tuple(args.models.split(","))):
        under_test = {model.key: servers.ours(model, tracking_uri(out), out, key="profile", **settings)}
        if before is not None:
            label = f"{model.key} @{before[0]}"
            under_test[label] = servers.ours(model, tracking_uri(out), out, key="profile-before", **settings)
            under_test[label].args = [str(before[1] / ".venv" / "bin" / "python"), "-m", "service"]
            under_test[label].cwd = before[1]
        try:
            for server in under_test.values():
                server.start()
            for server in under_test.values():
                server.wait_ready()
                run_wrk(server.url + server.predict_path, split_body(model), 8, 2.0)  # warm: versions' costs known
            for connections in (int(c) for c in args.connections.split(",")):
                for label, server in under_test.items():
                    profiles.append(profile(server, label, connections, args.seconds, args.rate, out / "profile"))
                    server.wait_idle()
        finally:
            for server in under_test.values():
                server.stop()
    print("\n".join(table(profiles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
