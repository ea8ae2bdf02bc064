"""The models this process serves, by name: how a request finds its model, and how models come and go."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from service.errors import ClientError, NotReadyError
from service.model_uri import ModelURI
from service.served_model import ModelServices, ServedModel

log = logging.getLogger(__name__)


class ServedModels:
    """Served models by registered-model name. Requests look models up here (`get`); the selection adds
    and removes them. A removed model leaves the table first (no new requests reach it), then drains."""

    def __init__(self, services: ModelServices) -> None:
        self.services = services
        self._models: dict[str, ServedModel] = {}

    def get(self, name: str | None) -> ServedModel:
        """The model called `name`; None: the only one served (400 naming the choices when several are)."""
        if name is None:
            if len(self._models) == 1:
                served = next(iter(self._models.values()))
            elif not self._models:
                raise NotReadyError("no model is selected")
            else:
                raise ClientError(
                    f"{len(self._models)} models are served here: name one in the path, "
                    f"/invocations/<name> (one of {', '.join(self.names())})",
                    400,
                    "BAD_REQUEST",
                )
        else:
            found = self._models.get(name)
            if found is None:
                raise ClientError(
                    f"model '{name}' is not served here (served: {', '.join(self.names()) or 'none'})",
                    404,
                    "RESOURCE_DOES_NOT_EXIST",
                )
            served = found
        served.used()
        return served

    def find(self, name: object) -> ServedModel | None:
        """The model called `name` if it is served (not a request: `last_used` is left alone)."""
        return self._models.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        return sorted(self._models)

    def __iter__(self) -> Iterator[ServedModel]:
        """A snapshot: models added or removed while iterating do not disturb it."""
        return iter([self._models[name] for name in self.names()])

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    async def add(self, uri: ModelURI, holds_readiness: bool = True) -> ServedModel:
        """Serve `uri` (started: its queue consumer and alias follower run); the same URI again is a no-op.
        `holds_readiness`: with several models, this one keeps the service not ready until it serves or
        `MODEL_STARTUP_BOUND_S` has passed (models selected after start do not)."""
        existing = self._models.get(uri.name)
        if existing is not None:
            if existing.uri == uri:
                return existing
            await self.remove(uri.name)
        served = ServedModel(uri, self.services, holds_readiness)
        served.start()
        self._models[uri.name] = served
        log.info("serving %s", uri)
        return served

    async def remove(self, name: str) -> None:
        """Stop serving `name`: out of the table first, then its requests in flight finish and it stops."""
        served = self._models.pop(name, None)
        if served is None:
            return
        log.info("no longer serving %s; finishing its requests in flight", served.uri)
        await served.stop()
        self.services.metrics.forget(name)

    async def close(self) -> None:
        """Stop every model, draining them side by side."""
        await asyncio.gather(*(self.remove(name) for name in self.names()))
