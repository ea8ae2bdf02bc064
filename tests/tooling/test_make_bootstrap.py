"""`make` bootstraps uv on a machine whose system Python refuses pip installs (PEP 668).

The stand-in system `python3` answers `pip install` as Debian 12 and Ubuntu 24.04 do
("externally-managed-environment") and has no uv; everything else (`-m venv`) is the real interpreter.
The bootstrap must leave the system Python alone and put uv in a private virtual environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.processes import REPO

SYSTEM_PYTHON = """#!/bin/sh
echo "$*" >> "{calls}"
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "error: externally-managed-environment" >&2
  echo "This environment is externally managed (PEP 668)" >&2
  exit 1
fi
if [ "$1" = "-m" ] && [ "$2" = "uv" ]; then
  echo "{real}: No module named uv" >&2
  exit 1
fi
exec "{real}" "$@"
"""


def test_uv_is_bootstrapped_into_a_private_venv_when_the_system_pip_refuses(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "system-python-calls.txt"
    real = getattr(sys, "_base_executable", sys.executable)
    python3 = fake_bin / "python3"
    python3.write_text(SYSTEM_PYTHON.format(calls=calls, real=real))
    python3.chmod(0o755)
    for tool in ("make", "sh", "bash", "grep", "awk"):
        if (found := shutil.which(tool)) is not None:
            (fake_bin / tool).symlink_to(found)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "Makefile", project / "Makefile")
    env = {**os.environ, "PATH": str(fake_bin)}  # no uv anywhere on PATH, python3 is the refusing one

    result = subprocess.run(
        ["make", "uv-bootstrap"], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    version = re.search(r"^UV_VERSION \?= (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert version is not None
    private_uv = project / ".uv-bootstrap" / "bin" / "uv"
    assert (
        f"uv {version.group(1)}"
        in subprocess.run([str(private_uv), "--version"], capture_output=True, text=True, timeout=60, check=True).stdout
    )
    assert f"uv {version.group(1)}" in result.stdout
    asked = calls.read_text().splitlines()
    assert not [call for call in asked if call.startswith("-m pip")], asked
    assert "-m venv .uv-bootstrap" in asked

    again = subprocess.run(
        ["make", "uv-bootstrap"], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "bootstrapping" not in again.stdout, "an existing private uv is used, not installed again"
