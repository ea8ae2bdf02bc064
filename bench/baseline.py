"""An earlier commit of this project as one more server in the same run (`python -m bench --baseline REV`).

A regression is a ratio against the previous code measured side by side, never two runs' absolute numbers
(this machine's speed drifts by tens of percent within minutes). The commit is checked out as a detached
git worktree under `bench/out/baseline-<commit>` with its own locked environment (`uv sync --locked`).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from bench.models import BenchModel
from bench.servers import REPO, Server, ours

log = logging.getLogger("bench")
KEY = "baseline"


def prepare(rev: str, out: Path) -> tuple[str, Path]:
    """Check `rev` out beside the run and install its locked environment; its short commit and folder."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folder = out / f"baseline-{commit}"
    if not (folder / ".git").exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=True)
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), commit],
            check=True,
            capture_output=True,
        )
    log.info("baseline %s: installing its locked environment in %s", commit, folder)
    subprocess.run(["uv", "sync", "--locked", "--no-dev", "--quiet"], cwd=folder, check=True)
    return commit, folder


def baseline_server(model: BenchModel, tracking_uri: str, out: Path, commit: str, folder: Path) -> Server:
    """The predictor of `commit`, with the same settings as this one's native (COMPILE=off) line."""
    server = ours(model, tracking_uri, out, key=KEY, label=f"aliasserve @{commit} (baseline)", COMPILE="off")
    server.args = [str(folder / ".venv" / "bin" / "python"), "-m", "service"]
    server.cwd = folder
    return server
