"""MLServer 1.7.1 in its own virtual environment, `bench/envs/mlserver` (its pins clash with ours).

MLServer pins `fastapi<0.116`; its worker crashes with uvloop 0.23 ("There is no current event loop"),
hence `uvloop==0.21.0`. mlflow, scikit-learn and skops match the project's, so the same registered
models load the same way.
"""

from __future__ import annotations

from pathlib import Path

from bench.venv import ensure_venv

ENV_DIR = Path(__file__).resolve().parent / "envs" / "mlserver"
PACKAGES = (
    "mlserver==1.7.1",
    "mlserver-mlflow==1.7.1",
    "uvloop==0.21.0",
    "mlflow==3.17.2",
    "scikit-learn==1.9.1",
    "skops==0.16.0",
)


def ensure_mlserver(base_python: str) -> Path:
    """The environment's python, creating the environment when missing. Raises when uv fails."""
    return ensure_venv(ENV_DIR, PACKAGES, base_python, "MLServer")
