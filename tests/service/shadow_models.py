"""Versions for the shadow tests: a production tree, a Challenger that disagrees on a known slice, and
Challengers that raise or hang on a trigger value (scikit-learn estimators, so they take the fast path).

The slice: production learns `x > 0`; the Challenger learns the same labels flipped where `x > 5`, so it
disagrees on exactly the rows with `x > 5` (the test rows keep away from the learnt boundaries).
`Moody` answers `x > 0` like production, except on a row with a finite `x >= TRIGGER`: then it raises, or hangs
(sleeps far longer than any test), depending on `mode`. Training and the load's warm-up never send it
the trigger, so it loads and is served normally.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.tree import DecisionTreeClassifier

from tests.processes import MlflowServer

TRIGGER = 1000.0
SLICE_FROM = 5.0


class Moody(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, mode: str = "raise") -> None:
        self.mode = mode

    def fit(self, x: Any, y: Any) -> Moody:
        self.classes_ = np.unique(np.asarray(y))
        self.n_features_in_ = 1
        return self

    def predict(self, x: Any) -> np.ndarray:
        values = np.asarray(x, dtype=np.float64)[:, 0]
        if (np.isfinite(values) & (values >= TRIGGER)).any():  # not infinity: the load's checks send it
            if self.mode == "hang":
                time.sleep(3600)
            raise RuntimeError("the shadow's trigger value")
        return (values > 0).astype(np.int64)

    def predict_proba(self, x: Any) -> np.ndarray:
        positive = self.predict(x).astype(np.float64)
        return np.column_stack([1 - positive, positive])


def frame(flip_slice: bool = False) -> pd.DataFrame:
    """400 points on [-10, 10); the label is `x > 0`, flipped above SLICE_FROM when `flip_slice`."""
    x = np.linspace(-10.0, 10.0, 400, endpoint=False) + 0.025
    label = x > 0
    if flip_slice:
        label = np.where(x > SLICE_FROM, ~label, label)
    return pd.DataFrame({"x": x, "target": label.astype(np.int64)})


@dataclass(frozen=True)
class Pair:
    name: str
    production: str
    challenger: str


def register_pair(server: MlflowServer, challenger: Any, flip_slice: bool = False) -> Pair:
    """A fresh model name: a tree as Production, `challenger` fitted on `frame(flip_slice)` as Challenger."""
    from training.train import train_and_register

    name = f"shadow-{uuid.uuid4().hex[:8]}"
    production = train_and_register(
        name,
        frame(),
        "target",
        estimator=DecisionTreeClassifier(random_state=0),
        alias="Production",
        tracking_uri=server.uri,
    )
    shadow = train_and_register(
        name, frame(flip_slice), "target", estimator=challenger, alias="Challenger", tracking_uri=server.uri
    )
    return Pair(name, str(production.version), str(shadow.version))
