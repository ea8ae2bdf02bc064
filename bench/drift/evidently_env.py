"""Evidently 0.7.23 in its own virtual environment, `bench/envs/evidently`.

Evidently 0.7.23 does not import with pandas 3 (`ImportError: infer_dtype_from_object`), so its
environment pins `pandas<3`; pyarrow reads the capture files.
"""

from __future__ import annotations

from pathlib import Path

from bench.venv import ensure_venv

ENV_DIR = Path(__file__).resolve().parent.parent / "envs" / "evidently"
PACKAGES = ("evidently==0.7.23", "pandas<3", "pyarrow")


def ensure_evidently(base_python: str = "3.11") -> Path:
    """The environment's python, creating the environment when missing. Raises when uv fails."""
    return ensure_venv(ENV_DIR, PACKAGES, base_python, "Evidently")
