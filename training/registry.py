"""Registry aliases: where `Production`, `Challenger` and `Previous` point, promotion and rollback.

Promotion moves `Production` to the new version and `Previous` to the version it replaced, so a
rollback is one alias swap (and a second rollback undoes the first). Cooldowns are not kept here.

A model served by stage (`models:/name/Production`, MLflow's deprecated stages) is promoted by stage
transition instead: `stage` names the stage that plays `Production`'s part, the new version is moved into
it with the others archived, and `Previous` (an alias: stages and aliases coexist) keeps the version it
replaced, so a rollback is one transition back.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from training.errors import RegistryStateError

logger = logging.getLogger(__name__)

PRODUCTION = "Production"
CHALLENGER = "Challenger"
PREVIOUS = "Previous"
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


# Stages are used on purpose here, when the served URI names one: MLflow's deprecation notice is not news.
warnings.filterwarnings("ignore", message=".*Model registry stages will be removed", category=FutureWarning)


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


def version_in_stage(client: MlflowClient, name: str, stage: str) -> str | None:
    """The latest version in `stage` (what `models:/name/<stage>` serves), or None when there is none."""
    try:
        latest = client.get_latest_versions(name, [stage])
    except MlflowException as exc:
        if _is_missing(exc):
            return None
        raise
    return str(max(int(mv.version) for mv in latest)) if latest else None


def production_version(client: MlflowClient, name: str, stage: str | None = None) -> str | None:
    """The version being served: `Production`'s alias, or the latest version in `stage` when given."""
    return version_by_alias(client, name, PRODUCTION) if stage is None else version_in_stage(client, name, stage)


def _serve(client: MlflowClient, name: str, version: str, stage: str | None) -> None:
    if stage is None:
        client.set_registered_model_alias(name, PRODUCTION, version)
    else:
        client.transition_model_version_stage(name, version, stage, archive_existing_versions=True)


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
    """`Production` (or the stage) before and after a promotion or rollback (`previous`: where `Previous` points)."""

    name: str
    production: str
    previous: str | None


def promote(client: MlflowClient, name: str, version: str, stage: str | None = None) -> AliasMove:
    """Serve `version` (alias `Production`, or `stage`), and point `Previous` at the version it replaced."""
    replaced = production_version(client, name, stage)
    if replaced is not None and replaced != version:
        client.set_registered_model_alias(name, PREVIOUS, replaced)
    _serve(client, name, version, stage)
    previous = replaced if replaced != version else version_by_alias(client, name, PREVIOUS)
    logger.info("promoted %s version %s to %s (%s: %s)", name, version, stage or PRODUCTION, PREVIOUS, previous)
    return AliasMove(name, version, previous)


def rollback(client: MlflowClient, name: str, stage: str | None = None) -> AliasMove:
    """Swap the served version and `Previous`: serve the previous version again, keep the one rolled back from."""
    require_model(client, name)
    previous = version_by_alias(client, name, PREVIOUS)
    if previous is None:
        raise RegistryStateError(f"cannot roll back {name!r}: it has no {PREVIOUS!r} alias")
    production = production_version(client, name, stage)
    _serve(client, name, previous, stage)
    if production is not None and production != previous:
        client.set_registered_model_alias(name, PREVIOUS, production)
    logger.info("rolled back %s: %s %s -> %s", name, stage or PRODUCTION, production, previous)
    return AliasMove(name, previous, production)
