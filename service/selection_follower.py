"""Keeps the served models in step with `MODEL_FILTER`: re-reads the selection each poll and on webhooks.

The read runs in a thread (a registry call); adding and removing models runs on the event loop, where
each model's queue lives. A model removed is taken out of the routing table first, then drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from service.metrics import Metrics
from service.model_uri import ModelURI
from service.registry import AliasNotFound, RegistryUnavailable
from service.selection import Snapshot, SnapshotResolver
from service.served_models import ServedModels

log = logging.getLogger(__name__)

RETRY_S = 5.0
"""How soon a failed read is retried while nothing has been selected yet."""


class SelectionFollower:
    """The background task that reads the selection and adds or removes served models."""

    def __init__(
        self,
        models: ServedModels,
        resolver: SnapshotResolver,
        filter_string: str,
        alias: str,
        interval_s: float,
        metrics: Metrics,
    ) -> None:
        self.models = models
        self.resolver = resolver
        self.filter_string = filter_string
        self.alias = alias
        self.interval_s = interval_s
        self.metrics = metrics
        self.last_error: str | None = None
        """Why the last read failed, while reads fail (shown by readiness when nothing is selected)."""
        self.reads = 0
        """Successful reads so far: the first one's models gate readiness (`MODEL_STARTUP_BOUND_S`)."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read once before serving (so the first models gate readiness), then follow in the background."""
        await self.follow_once()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="selection")

    def wake(self) -> None:
        """Read the selection now (a webhook said a model was created or an alias moved)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def follow_once(self) -> None:
        try:
            snapshot = await asyncio.to_thread(self.resolver.read, self.filter_string)
        except (RegistryUnavailable, AliasNotFound) as exc:
            if isinstance(exc, RegistryUnavailable):
                self.metrics.registry_errors.inc()
            self._failed(str(exc))
            return
        if self.last_error is not None:
            log.info("MODEL_FILTER read again: %d models selected", len(snapshot.aliases))
        self.last_error = None
        await self._apply(snapshot, holds_readiness=self.reads == 0)
        self.reads += 1

    async def _apply(self, snapshot: Snapshot, holds_readiness: bool) -> None:
        wanted = {name for name in snapshot.aliases if snapshot.version(name) is not None or name in self.models}
        leaving = [name for name in self.models.names() if name not in wanted]
        for name in leaving:
            log.info("%s no longer matches MODEL_FILTER: it stops serving", name)
        await asyncio.gather(*(self.models.remove(name) for name in leaving))
        for name in leaving:
            self.resolver.forget(name)
        for name in sorted(wanted):
            if name not in self.models:
                await self.models.add(ModelURI(name=name, alias=self.alias), holds_readiness=holds_readiness)
        for served in self.models:
            followers = [served.manager] if served.shadow is None else [served.manager, served.shadow.follower]
            for follower in followers:  # production's alias, and the shadow's (SHADOW_ALIAS)
                version = snapshot.version(served.name, follower.target.alias)
                current = follower.current
                # Serving followers do not poll (`wakes_followers`): woken when the alias moved or went (the
                # follower keeps its version and says the alias is missing), or while the follower says so
                # or could not reach the registry. They resolve from the snapshot just read.
                moved = current is None or current.version != version
                if (version is not None or current is not None) and (
                    moved or follower.alias_missing or not follower.registry_ok
                ):
                    follower.wake()

    def _failed(self, reason: str) -> None:
        if reason != self.last_error:
            log.error("MODEL_FILTER could not be read (%s); serving the models selected before", reason)
        self.last_error = reason

    async def _run(self) -> None:
        while True:
            timeout = self._next_wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                await self.follow_once()
            except Exception:  # the loop must survive anything; follow_once logs its own failures
                log.exception("unexpected error while following MODEL_FILTER")

    def _next_wait(self) -> float | None:
        if self.last_error is not None and not len(self.models):
            return RETRY_S
        if self.interval_s == 0:
            return None  # only webhooks and admin reloads read the selection
        return self.interval_s * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, so replicas do not poll in step
