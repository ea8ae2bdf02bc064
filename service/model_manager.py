"""Resolve the alias, load the version it names off the request path, warm it up, swap it in.

Polling is the guarantee; webhooks and `/admin/reload` call `refresh()` for the fast path. A version that
fails to load is never served: the old one stays, the failure is counted, and the same version is
retried with capped exponential back-off. A registry that is down changes nothing that is serving.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from service import load_share
from service.budgeted_loading import LoadDeferred
from service.loaded_model import LoadedModel, ModelVersion, load_version
from service.logs import redact
from service.metrics import Metrics
from service.model_uri import ModelURI
from service.registry import AliasNotFound, RegistryUnavailable, Resolver

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 300.0
REGISTRY_BACKOFF_MAX_S = 30.0
NOT_READY_RETRY_S = 5.0


@dataclass(frozen=True)
class RefreshResult:
    previous: str | None
    current: str | None


Loader = Callable[[ModelVersion, Path], LoadedModel]
"""Loads a version into a folder (`load_version`, with the compiler bound in the app)."""


class Backoff:
    """Capped exponential back-off with jitter, keyed by what failed (a version, or the registry)."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        self.not_before: dict[str, float] = {}

    def failed(self, key: str, cap: float = BACKOFF_MAX_S) -> float:
        count = self.failures[key] = self.failures.get(key, 0) + 1
        delay = float(min(cap, BACKOFF_START_S * 2 ** min(count - 1, 30))) * random.uniform(0.8, 1.2)  # noqa: S311
        self.not_before[key] = time.monotonic() + delay
        return delay

    def waiting(self, key: str) -> bool:
        return time.monotonic() < self.not_before.get(key, 0.0)

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)
        self.not_before.pop(key, None)


class ModelManager:
    """Holds the served version. `current` is read on every request; it is replaced, never mutated."""

    def __init__(
        self,
        target: ModelURI,
        registry: Resolver,
        metrics: Metrics,
        cache_root: Path,
        cache_size: int = 2,
        interval_s: float = 5.0,
        loader: Loader = load_version,
    ) -> None:
        self.target = target
        self.registry = registry
        self.metrics = metrics
        self.cache_root = cache_root
        self.cache_size = cache_size
        self.interval_s = interval_s
        self.loader = loader
        metrics.following(target.name)
        self.current: LoadedModel | None = None
        self.deferred: ModelVersion | None = None
        """Memory budget: the version the alias names while the model is unloaded (service/budgeted_loading.py)."""
        self.cache: OrderedDict[str, LoadedModel] = OrderedDict()
        self.alias_missing = False
        self.last_error: str | None = None
        self.registry_ok = True
        self._backoff = Backoff()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def not_ready_reason(self) -> str | None:
        if self.current is not None or self.deferred is not None:  # unloaded under a budget: serves on demand
            return None
        return self.last_error or f"loading {self.target}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-manager", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        """Ask the background loop to resolve the alias now (webhook fast path)."""
        self._wake.set()

    def refresh(self, force: bool = False) -> RefreshResult:
        """Resolve the alias and load the version if it moved. Serialised: one load at a time."""
        with self._lock:
            previous = self.current.version if self.current else None
            self._refresh_locked(force)
            return RefreshResult(previous, self.current.version if self.current else None)

    def cached(self, version: str) -> LoadedModel | None:
        return self.cache.get(version)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # the loop must survive anything; refresh() counts and logs its own failures
                log.exception("unexpected error while following %s", self.target)
            serving = self.current is not None or self.deferred is not None
            if serving and (not self.target.following or self.interval_s == 0 or self.registry.wakes_followers):
                self._wake.wait()  # nothing to poll: only a webhook, an admin call or the selection wakes us
            else:
                self._wake.wait(self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        if self.current is None and self.deferred is None:
            next_try = min(self._backoff.not_before.values(), default=0.0) - time.monotonic()
            return min(NOT_READY_RETRY_S, max(0.5, next_try))
        return self.interval_s * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, so replicas do not poll in step

    def _refresh_locked(self, force: bool) -> None:
        if not force and self._backoff.waiting("registry"):
            return
        try:
            meta = self.registry.resolve(self.target)
        except AliasNotFound as exc:
            self._registry_state(ok=True)
            self._alias_state(missing=True, reason=str(exc))
            return
        except RegistryUnavailable as exc:
            self.metrics.registry_errors.inc()
            # Not serving yet: keep knocking every few seconds; serving: no hurry, back off further.
            self._backoff.failed("registry", NOT_READY_RETRY_S if self.current is None else REGISTRY_BACKOFF_MAX_S)
            self._registry_state(ok=False, reason=str(exc))
            return
        self._backoff.succeeded("registry")
        self._registry_state(ok=True)
        self._alias_state(missing=False)
        if self.current is not None and self.current.version == meta.version:
            return
        if not force and self._backoff.waiting(meta.version):
            return
        self._swap_to(meta)

    def _swap_to(self, meta: ModelVersion) -> None:
        loaded = self.cache.get(meta.version)
        from_memory = loaded is not None
        started = time.monotonic()
        if loaded is None:
            try:
                with load_share.loading():  # the event loop keeps the GIL most of the time meanwhile
                    loaded = self.loader(meta, self.cache_root)
                    loaded.warm_up()
            except LoadDeferred:  # memory budget: left unloaded until a call wants it
                self.deferred = meta
                return
            except Exception as exc:
                self.metrics.reloads.labels(meta.name, "failure").inc()
                delay = self._backoff.failed(meta.version)
                self.last_error = redact(f"version {meta.version} failed to load: {type(exc).__name__}: {exc}")
                log.error("%s; still serving %s; retry in %.0fs", self.last_error, self._serving(), delay)
                if loaded is not None:
                    loaded.discard()
                return
        loaded.meta = meta
        previous = self.current
        self.current = loaded  # the swap: one reference assignment; requests hold their own reference
        self.deferred = None
        self._remember(loaded)
        if not from_memory:
            gc.freeze()  # the version and the modules its load imported live on: keep full collections short
        self._backoff.succeeded(meta.version)
        self.last_error = None
        self.metrics.reloads.labels(meta.name, "success").inc()
        self.metrics.last_reload.labels(meta.name).set_to_current_time()
        self.metrics.ready.labels(meta.name).set(1)
        self.metrics.set_served(meta.name, meta.alias or "", meta.version, meta.run_id or "", loaded.runtime)
        log.info(
            "serving %s version %s (was %s) after %.2fs%s",
            meta.name,
            meta.version,
            previous.version if previous else "nothing",
            time.monotonic() - started,
            ", from memory" if from_memory else "",
        )

    # -- memory budget (service/budgeted_loading.py) --
    def load_deferred(self) -> None:
        """Load the version the alias named when the model was unloaded (a call wants it): no registry call."""
        with self._lock:
            meta = self.deferred
            if self.current is None and meta is not None and not self._backoff.waiting(meta.version):
                self._swap_to(meta)

    def unload(self) -> bool:
        """Drop every version from memory and keep following the alias, unloaded. False while a refresh runs
        (the model is loading or swapping: it is left alone)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self.current is not None:
                self.deferred = self.current.meta
            self.current = None  # requests holding it finish with their own reference
            for loaded in self.cache.values():
                loaded.discard()
            self.cache.clear()
        finally:
            self._lock.release()
        return True

    # -- end memory budget --

    def _remember(self, loaded: LoadedModel) -> None:
        self.cache[loaded.version] = loaded
        self.cache.move_to_end(loaded.version)
        while len(self.cache) > self.cache_size:
            _, evicted = self.cache.popitem(last=False)
            if evicted is not self.current:
                evicted.discard()

    def _serving(self) -> str:
        return f"version {self.current.version}" if self.current else "nothing"

    def _registry_state(self, ok: bool, reason: str = "") -> None:
        if ok != self.registry_ok:
            if ok:
                log.info("MLflow registry reachable again")
            else:
                log.error("MLflow registry unreachable (%s); still serving %s", reason, self._serving())
        self.registry_ok = ok
        if not ok and self.current is None:
            self.last_error = f"MLflow registry unreachable: {reason}"

    def _alias_state(self, missing: bool, reason: str = "") -> None:
        if missing != self.alias_missing:
            if missing:
                log.error("%s; still serving %s", reason, self._serving())
            else:
                log.info("alias %s resolves again", self.target)
        self.alias_missing = missing
        self.metrics.alias_missing.labels(self.target.name).set(1 if missing else 0)
        if missing and self.current is None:
            self.last_error = reason
