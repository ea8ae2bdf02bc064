"""The MLflow registry as the predictor sees it: resolve a URI to a version; list the models a filter selects."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from service.loaded_model import ModelVersion
from service.logs import redact
from service.model_uri import ModelURI

# Stage URIs are served on purpose (MLflow deprecates stages but still serves them): without this, every
# process following a stage would print MLflow's deprecation notice for `get_latest_versions`.
warnings.filterwarnings("ignore", message=".*Model registry stages will be removed", category=FutureWarning)


class AliasNotFound(Exception):
    """The model, alias, stage or version does not exist (the registry answered)."""


class RegistryUnavailable(Exception):
    """The registry could not be asked (network, server error, time-out)."""


class Resolver(Protocol):
    """What a model's follower asks: the version a URI names now (`Registry`, or the selection's snapshot)."""

    wakes_followers: bool
    """Whoever refreshes what this resolves from wakes each follower whose answer changed (the selection's
    snapshot, `service/selection_follower.py`): a follower that serves need not poll on its own."""

    def resolve(self, target: ModelURI) -> ModelVersion: ...


@dataclass(frozen=True)
class RegisteredModelEntry:
    """One registered model a search returned: its aliases (alias -> version) and tags came with it."""

    name: str
    aliases: dict[str, str]
    tags: dict[str, str]


_SEARCH_PAGE = 1000
"""The most `search_registered_models` returns a page (the server's own cap)."""


class Registry:
    """A thin wrapper over `MlflowClient` that sorts failures into "does not exist" and "cannot ask"."""

    wakes_followers = False

    def __init__(self, tracking_uri: str) -> None:
        from mlflow import MlflowClient

        self.client: Any = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def resolve(self, target: ModelURI) -> ModelVersion:
        with _sorted_failures(lambda: f"{target} does not exist in the registry"):
            mv = self._lookup(target)
        return ModelVersion(
            name=mv.name, version=str(mv.version), run_id=mv.run_id, source=mv.source, alias=target.alias
        )

    def version(self, name: str, version: str, alias: str | None) -> ModelVersion:
        """One version's record (its run and source), as resolved through `alias`."""
        with _sorted_failures(lambda: f"models:/{name}/{version} does not exist in the registry"):
            mv = self.client.get_model_version(name, version)
        return ModelVersion(name=mv.name, version=str(mv.version), run_id=mv.run_id, source=mv.source, alias=alias)

    def search(self, filter_string: str) -> list[RegisteredModelEntry]:
        """Every registered model the filter selects, with its aliases and tags: one call a page of 1000."""
        entries: list[RegisteredModelEntry] = []
        token: str | None = None
        with _sorted_failures(lambda: f"MODEL_FILTER {filter_string!r} is not a valid registry filter"):
            while True:
                page = self.client.search_registered_models(filter_string, max_results=_SEARCH_PAGE, page_token=token)
                entries.extend(
                    RegisteredModelEntry(m.name, {a: str(v) for a, v in (m.aliases or {}).items()}, dict(m.tags or {}))
                    for m in page
                )
                token = page.token
                if not token:
                    return entries

    def _lookup(self, target: ModelURI) -> Any:
        if target.alias is not None:
            return self.client.get_model_version_by_alias(target.name, target.alias)
        if target.stage is not None:
            # What MLflow's own `models:/name/Stage` resolution calls: the highest version in that stage.
            latest = self.client.get_latest_versions(target.name, [target.stage])
            if not latest:
                raise AliasNotFound(f"{target} does not exist in the registry: no version is in stage {target.stage}")
            return max(latest, key=lambda mv: int(mv.version))
        return self.client.get_model_version(target.name, target.version)


@contextmanager
def _sorted_failures(missing: Callable[[], str]) -> Iterator[None]:
    """MLflow's failures as AliasNotFound (the registry answered: no such thing) or RegistryUnavailable."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            raise AliasNotFound(f"{missing()}: {_first_line(exc.message)}") from exc
        raise RegistryUnavailable(_first_line(exc.message)) from exc
    except AliasNotFound:
        raise
    except Exception as exc:
        raise RegistryUnavailable(f"{type(exc).__name__}: {_first_line(str(exc))}") from exc


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return redact(line[:300])
