"""How a version was trained, in the terms MLflow records: hyperparameters, code version, libraries.

- Hyperparameters: `get_params(deep=True)`, so every step of a nested pipeline is there
  (`estimator.classifier__C`); a value that is itself an estimator is logged as its class name (its own
  parameters are listed beside it); values longer than MLflow's limit (6,000 characters) are truncated.
- Code version: the git commit of the checkout the code runs from (`mlflow.source.git.commit`, MLflow's
  own tag, and whether the checkout had uncommitted changes); in an image, which has no `.git`, the
  build argument `GIT_COMMIT` baked in as `ALIASSERVE_GIT_COMMIT`.
- Library versions: the packages that decide what the model computes and how it is stored.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, MAX_PARAM_VAL_LENGTH

PARAM_PREFIX = "estimator."
COMMIT_VARIABLE = "ALIASSERVE_GIT_COMMIT"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
CODE_SOURCE_TAG = "aliasserve.code_version_source"
CODE_DIRTY_TAG = "aliasserve.code_uncommitted_changes"
LIBRARY_TAG_PREFIX = "aliasserve.library."
LIBRARIES = ("scikit-learn", "mlflow", "numpy", "pandas", "pyarrow", "scipy", "skops")
_CHECKOUT = Path(__file__).resolve().parent.parent
_TRUNCATED = "...[truncated]"


def hyperparameters(estimator: Any) -> dict[str, str]:
    """Every parameter of `estimator`, nested ones included, as MLflow params (`estimator.` + name)."""
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    logged = {}
    for name, value in sorted(params.items()):
        key = (PARAM_PREFIX + name)[:MAX_ENTITY_KEY_LENGTH]
        logged[key] = _truncate(_text(value), MAX_PARAM_VAL_LENGTH)
    return logged


def _text(value: Any) -> str:
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    if isinstance(value, list | tuple):
        inner = ", ".join(_item_text(item) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return str(value)


def _item_text(item: Any) -> str:
    if hasattr(item, "get_params") or isinstance(item, list | tuple):
        return _text(item)
    return repr(item)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_TRUNCATED)] + _TRUNCATED


@dataclass(frozen=True)
class CodeVersion:
    commit: str | None
    source: str
    """`git checkout`, `image build argument` or `unknown`."""
    dirty: bool | None = None

    def tags(self) -> dict[str, str]:
        tags = {CODE_SOURCE_TAG: self.source}
        if self.commit:
            tags[GIT_COMMIT_TAG] = self.commit
        if self.dirty is not None:
            tags[CODE_DIRTY_TAG] = str(self.dirty).lower()
        return tags


def code_version(checkout: Path = _CHECKOUT) -> CodeVersion:
    """The commit of the checkout this code runs from, else the one baked into the image, else unknown."""
    commit = _git(checkout, "rev-parse", "HEAD")
    if commit:
        status = _git(checkout, "status", "--porcelain")
        return CodeVersion(commit, "git checkout", None if status is None else bool(status))
    baked = os.environ.get(COMMIT_VARIABLE, "").strip()
    if baked:
        return CodeVersion(baked, "image build argument")
    return CodeVersion(None, "unknown")


def _git(checkout: Path, *args: str) -> str | None:
    """Output of a git command in `checkout`; None without git, outside a repository, or on any failure."""
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def library_versions() -> dict[str, str]:
    """Tags naming the installed version of each library in LIBRARIES (and Python's)."""
    tags = {f"{LIBRARY_TAG_PREFIX}python": platform.python_version()}
    for name in LIBRARIES:
        try:
            tags[LIBRARY_TAG_PREFIX + name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tags
