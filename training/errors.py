"""Errors a user can cause (bad data, bad names, a registry in the wrong state).

The CLI turns these into one line on stderr and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class TrainingInputError(ValueError):
    """The data, the target column, the metric or the model name given cannot be used."""


class RegistryStateError(RuntimeError):
    """The registry is not in a state the command can work from (no such model, no `Previous` alias)."""
