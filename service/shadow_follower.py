"""The shadow's own alias follower: a second `ModelManager` on `models:/<name>@<SHADOW_ALIAS>`.

It polls, answers webhooks, loads, warms up and compiles exactly as production's follower does, but it
must not speak for production in the metrics: `model_ready`, `model_info`, `model_alias_missing` and
`model_last_reload_timestamp_seconds` describe what is served, so the shadow's follower leaves them alone.
Its loads are counted in `model_reloads_total` under `model="<name>@<alias>"` (e.g. `churn@Challenger`),
so a Challenger that fails to load is visible without looking like production failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from service.metrics import Metrics
from service.model_manager import ModelManager
from service.model_uri import ModelURI
from service.shadow import Shadow
from service.shadow_compare import Tolerance

if TYPE_CHECKING:
    from service.served_model import ModelServices


class _Ignored:
    """A metric series nobody reads: the shadow's follower must not set production's gauges."""

    def labels(self, *_args: Any, **_kwargs: Any) -> _Ignored:
        return self

    def set(self, *_args: Any) -> None:
        return None

    def inc(self, *_args: Any) -> None:
        return None

    def set_to_current_time(self) -> None:
        return None


class _Reloads:
    """`model_reloads_total` with the shadow's model label."""

    def __init__(self, metrics: Metrics, alias: str) -> None:
        self._counter = metrics.reloads
        self._alias = alias

    def labels(self, model: str, result: str) -> Any:
        return self._counter.labels(f"{model}@{self._alias}", result)


class ShadowFollowerMetrics:
    """The part of `Metrics` a `ModelManager` touches, as the shadow's follower should touch it."""

    def __init__(self, metrics: Metrics, alias: str) -> None:
        self.reloads = _Reloads(metrics, alias)
        self.registry_errors = metrics.registry_errors
        self.last_reload = _Ignored()
        self.ready = _Ignored()
        self.alias_missing = _Ignored()
        self._alias = alias
        self._metrics = metrics

    def following(self, model: str) -> None:
        self._metrics.following(f"{model}@{self._alias}")

    def set_served(self, *_args: Any) -> None:
        return None


def shadow_of(production: ModelManager, services: ModelServices) -> Shadow | None:
    """A served model's shadow when `SHADOW_ALIAS` is set: its follower loads as production's does (same
    loader: COMPILE applies) into its own folder, and asks what production's follower asks: the registry,
    or with `MODEL_FILTER` the selection's snapshot (which holds every alias of each model)."""
    settings = services.settings
    if settings.shadow_alias is None or production.target.alias == settings.shadow_alias:
        return None
    follower = ModelManager(
        ModelURI(name=production.target.name, alias=settings.shadow_alias),
        services.registry,
        cast(Metrics, ShadowFollowerMetrics(services.metrics, settings.shadow_alias)),
        production.cache_root / "shadow",
        cache_size=1,
        interval_s=settings.reload_interval_s,
        loader=production.loader,
    )
    tolerance = Tolerance(settings.shadow_atol, settings.shadow_rtol)
    return Shadow(
        follower, services.metrics, services.capture, settings.shadow_sample_rate, settings.shadow_queue_rows, tolerance
    )
