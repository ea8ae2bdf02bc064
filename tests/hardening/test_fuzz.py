"""Schemathesis against the running service's own `/openapi.json`: a bounded run, no 5xx anywhere."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

from tests.conftest import RegisteredModel
from tests.hardening.conftest import server_errors
from tests.helpers import venv_binary
from tests.processes import RunningService, base_env

MAX_SECONDS = 25
OPTIONS = {
    "--checks": "not_a_server_error",
    "--phases": "coverage,fuzzing",
    "--max-examples": "15",
    "--max-time": str(MAX_SECONDS),
    "--seed": "1",
    "--workers": "1",  # two threads crash Hypothesis in ast.parse on Python 3.11.7 ("AST ... depth mismatch")
    "--request-timeout": "60",
    "--generation-database": "none",
    "--suppress-health-check": "all",  # Hypothesis' "generation too slow" fails runs on a busy machine
}


def _schemathesis() -> str:
    return venv_binary("st")


def _problems(stdout: str) -> str:
    """The FAILURES and ERRORS sections of a schemathesis report, or its tail."""
    start = min((i for i in (stdout.find("= FAILURES ="), stdout.find("= ERRORS =")) if i >= 0), default=-6000)
    return stdout[start : start + 6000] if start >= 0 else stdout[start:]


def test_schemathesis_finds_no_server_error(
    target: RunningService, demo_model: RegisteredModel, tmp_path: Path
) -> None:
    """Coverage and fuzzing phases over every operation; V2 path parameters name the served model so
    generated tensors reach the parser and the model instead of stopping at 404. `/admin/reload` and
    `/webhooks/mlflow` are included: unconfigured, they answer 404 to everything."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.name" = "{demo_model.name}"\n"path.version" = "{demo_model.version}"\n')
    command = [
        _schemathesis(),
        "--config-file",
        str(config),
        "run",
        f"{target.url}/openapi.json",
        *itertools.chain.from_iterable(OPTIONS.items()),
        "--no-shrink",
        "--no-color",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=base_env(), capture_output=True, text=True, timeout=MAX_SECONDS + 120, check=False
    )
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert result.returncode == 0, _problems(result.stdout) + result.stderr[-2000:]
    assert summary is not None, result.stdout[-3000:]
    assert int(summary[2]) == int(summary[1]) > 100
    assert server_errors(target) == {}
    assert target.alive()
