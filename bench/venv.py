"""A peer's own virtual environment (its pins clash with ours), made once with uv and reused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def ensure_venv(env_dir: Path, packages: tuple[str, ...], base_python: str, what: str) -> Path:
    """The environment's python, creating the environment when missing or its packages changed."""
    python = env_dir / "bin" / "python"
    marker = env_dir / ".installed"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(packages):
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError(f"uv is not on PATH: it creates the {what} environment")
    subprocess.run([uv, "venv", "--quiet", "--allow-existing", str(env_dir), "--python", base_python], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), *packages], check=True)
    marker.write_text("\n".join(packages))
    return python
