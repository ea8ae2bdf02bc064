"""Evidently 0.7.23 in its own virtual environment, `bench/envs/evidently`.

Evidently 0.7.23 does not import with pandas 3 (`ImportError: infer_dtype_from_object`), so its
environment pins `pandas<3`; pyarrow reads the capture files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ENV_DIR = Path(__file__).resolve().parent.parent / "envs" / "evidently"
PACKAGES = ("evidently==0.7.23", "pandas<3", "pyarrow")


def ensure_evidently(base_python: str = "3.11") -> Path:
    """The environment's python, creating the environment when missing. Raises when uv fails."""
    python = ENV_DIR / "bin" / "python"
    marker = ENV_DIR / ".installed"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(PACKAGES):
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH: it creates the Evidently environment")
    subprocess.run([uv, "venv", "--quiet", "--allow-existing", str(ENV_DIR), "--python", base_python], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), *PACKAGES], check=True)
    marker.write_text("\n".join(PACKAGES))
    return python
