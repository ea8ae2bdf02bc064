"""The pip requirements logged with a model, worked out from the estimator instead of inferred.

MLflow infers requirements by loading the model in a subprocess and recording every imported
module: about 12 s per model here, and it picks up whatever the process happened to import (pytest,
rich). The packages an estimator needs are the ones its classes come from, plus the loaders.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Iterator, Mapping
from typing import Any

from sklearn.base import BaseEstimator

BASE_MODULES = ("sklearn", "skops", "numpy", "scipy", "pandas")


def _components(estimator: Any) -> Iterator[Any]:
    """The estimator and every estimator nested in its parameters (Pipeline steps, meta-estimators)."""
    yield estimator
    if isinstance(estimator, BaseEstimator):
        for value in estimator.get_params(deep=True).values():
            if isinstance(value, BaseEstimator):
                yield value


def _root_module(component: Any) -> str:
    return type(component).__module__.split(".", 1)[0]


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    """Top-level module -> distributions; scanning site-packages takes most of a second, so once."""
    return importlib.metadata.packages_distributions()


def pip_requirements(estimator: Any) -> list[str]:
    """Pinned `dist==version` for each installed distribution providing the estimator's modules."""
    modules = set(BASE_MODULES) | {_root_module(component) for component in _components(estimator)}
    pins = set()
    for module in modules:
        for distribution in _distributions().get(module, []):
            pins.add(f"{distribution}=={importlib.metadata.version(distribution)}")
    return sorted(pins)
