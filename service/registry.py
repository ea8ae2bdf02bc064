"""The MLflow registry as the predictor sees it: one call, resolve a URI to a version."""

from __future__ import annotations

import warnings
from typing import Any

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


class Registry:
    """A thin wrapper over `MlflowClient` that sorts failures into "does not exist" and "cannot ask"."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow import MlflowClient

        self.client: Any = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def resolve(self, target: ModelURI) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            mv = self._lookup(target)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
                raise AliasNotFound(f"{target} does not exist in the registry: {_first_line(exc.message)}") from exc
            raise RegistryUnavailable(_first_line(exc.message)) from exc
        except AliasNotFound:
            raise
        except Exception as exc:
            raise RegistryUnavailable(f"{type(exc).__name__}: {_first_line(str(exc))}") from exc
        return ModelVersion(
            name=mv.name, version=str(mv.version), run_id=mv.run_id, source=mv.source, alias=target.alias
        )

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


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return redact(line[:300])
