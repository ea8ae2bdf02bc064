"""Run `python -m drift audit` as a real process and read its JSON lines back."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from tests.processes import REPO, base_env


@dataclass(frozen=True)
class Audit:
    code: int
    rows: list[dict[str, Any]]
    stderr: str


def audit(capture_uri: str, *args: str, **env: str) -> Audit:
    """`python -m drift audit --capture-uri URI ARGS`, with settings from `env` only."""
    done = subprocess.run(
        [sys.executable, "-m", "drift", "audit", "--capture-uri", capture_uri, *args],
        cwd=REPO,
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Audit(done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line], done.stderr)
