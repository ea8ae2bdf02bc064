"""Registry aliases: where `Production`, `Challenger` and `Previous` point, promotion and rollback.

Promotion moves `Production` to the new version and `Previous` to the version it replaced, so a
rollback is one alias swap (and a second rollback undoes the first). Cooldowns are not kept here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from training.errors import RegistryStateError

logger = logging.getLogger(__name__)

PRODUCTION = "Production"
CHALLENGER = "Challenger"
PREVIOUS = "Previous"
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def _is_missing(exc: MlflowException) -> bool:
    return exc.error_code in _MISSING or "not found" in exc.message.lower()


def version_by_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version `name@alias` points to, or None when the model or the alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if _is_missing(exc):
            return None
        raise


def require_model(client: MlflowClient, name: str) -> None:
    """Raise RegistryStateError with one clear line when `name` is not a registered model."""
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if _is_missing(exc):
            raise RegistryStateError(f"unknown model {name!r}: no registered model of that name") from exc
        raise


@dataclass(frozen=True)
class AliasMove:
    """`Production` before and after a promotion or rollback (`previous` is where `Previous` now points)."""

    name: str
    production: str
    previous: str | None


def promote(client: MlflowClient, name: str, version: str) -> AliasMove:
    """Point `Production` at `version`, and `Previous` at the version it replaced (if any, and different)."""
    replaced = version_by_alias(client, name, PRODUCTION)
    if replaced is not None and replaced != version:
        client.set_registered_model_alias(name, PREVIOUS, replaced)
    client.set_registered_model_alias(name, PRODUCTION, version)
    previous = replaced if replaced != version else version_by_alias(client, name, PREVIOUS)
    logger.info("promoted %s version %s to %s (%s: %s)", name, version, PRODUCTION, PREVIOUS, previous)
    return AliasMove(name, version, previous)


def rollback(client: MlflowClient, name: str) -> AliasMove:
    """Swap `Production` and `Previous`: serve the previous version again, keep the one rolled back from."""
    require_model(client, name)
    previous = version_by_alias(client, name, PREVIOUS)
    if previous is None:
        raise RegistryStateError(f"cannot roll back {name!r}: it has no {PREVIOUS!r} alias")
    production = version_by_alias(client, name, PRODUCTION)
    client.set_registered_model_alias(name, PRODUCTION, previous)
    if production is not None and production != previous:
        client.set_registered_model_alias(name, PREVIOUS, production)
    logger.info("rolled back %s: %s %s -> %s", name, PRODUCTION, production, previous)
    return AliasMove(name, previous, production)
