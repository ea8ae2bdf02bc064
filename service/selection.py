"""`MODEL_FILTER` at `MODEL_ALIAS`: which registered models to serve, re-read on each poll and on webhooks.

One `search_registered_models` call a poll (a page holds 1000 models) answers both questions: which
models the filter selects, and which version each one's alias names (the search returns every model's
aliases). The followers of the selected models resolve from that snapshot (`SnapshotResolver`), so 100
models cost one registry call an interval, plus one `get_model_version` per version that appears.

A model joins when it matches the filter and has the alias; it stays while it matches (an alias deleted
later keeps its last version serving, as with one model); it leaves, drained, when it stops matching.
The drift job's retraining claims (`<model>.retrain-claim.<digest>`, tagged `aliasserve.retrain_claim_for`)
are registered models too, and never served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from service.loaded_model import ModelVersion
from service.model_uri import ModelURI
from service.registry import AliasNotFound, RegisteredModelEntry, Registry, RegistryUnavailable

log = logging.getLogger(__name__)

RETRAIN_CLAIM_TAG = "aliasserve.retrain_claim_for"
"""The drift job's claim marker (drift/retrain.py `CLAIM_FOR_TAG`): such models are never served."""


@dataclass(frozen=True)
class Snapshot:
    """One read of the selection: every matching model's aliases (alias -> version), so the serving alias
    and a shadow alias resolve from the same read."""

    alias: str
    """The serving alias (`MODEL_ALIAS`)."""
    aliases: dict[str, dict[str, str]]

    def version(self, name: str, alias: str | None = None) -> str | None:
        """The version `alias` (the serving alias when None) names for `name`; None: not set, or not selected."""
        return self.aliases.get(name, {}).get(alias or self.alias)


class SnapshotResolver:
    """Resolves a selected model's aliases from the last search, as a follower's registry (`Resolver`):
    the serving alias and, with `SHADOW_ALIAS`, the shadow's."""

    wakes_followers = True
    """The selection follower wakes a follower whose alias the new snapshot answers otherwise: 100 serving
    followers do not wake every interval to read the snapshot they were just woken for."""

    def __init__(self, registry: Registry, alias: str) -> None:
        self.registry = registry
        self.alias = alias
        self.snapshot: Snapshot | None = None
        """The last successful read: while the registry is down, followers keep resolving from it."""
        self._records: dict[tuple[str, str], ModelVersion] = {}
        self._lock = threading.Lock()

    def read(self, filter_string: str) -> Snapshot:
        """Search the registry (raises RegistryUnavailable, or AliasNotFound for a filter it refuses)."""
        entries = [e for e in self.registry.search(filter_string) if not _claim(e)]
        snapshot = Snapshot(self.alias, {e.name: dict(e.aliases) for e in entries})
        self.snapshot = snapshot
        return snapshot

    def resolve(self, target: ModelURI) -> ModelVersion:
        if self.snapshot is None:
            raise RegistryUnavailable("the selection has not been read yet")
        version = self.snapshot.version(target.name, target.alias)
        if version is None:
            raise AliasNotFound(f"{target} does not exist in the registry (not set, or the model left the selection)")
        with self._lock:
            record = self._records.get((target.name, version))
        if record is None:
            record = self.registry.version(target.name, version, target.alias)
            with self._lock:
                self._records[(target.name, version)] = record
        return record

    def forget(self, name: str) -> None:
        """Drop the records of a model no longer served."""
        with self._lock:
            for key in [k for k in self._records if k[0] == name]:
                del self._records[key]


def _claim(entry: RegisteredModelEntry) -> bool:
    return is_retrain_claim(entry.name, entry.tags)


def is_retrain_claim(name: str, tags: Mapping[str, str]) -> bool:
    """A registered model that only marks a retraining (the drift job's claim): never served nor checked."""
    return RETRAIN_CLAIM_TAG in tags or ".retrain-claim." in name
