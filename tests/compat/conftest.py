"""The zoo's models served twice, by `mlflow models serve` and by this service, started lazily per model.

At most three pairs run at once (the differential cases come grouped by model): start-up cost is one pair
per model, and memory stays bounded however many models the zoo grows to. Three, because
test_many_models_differential.py compares against the pairs of three models that test_differential.py
serves last: they are still running when it starts (evicted and restarted, they cost a minute a run).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.compat.zoo import register
from tests.processes import MlflowModelsServe, MlflowServer, RunningService

_MAX_PAIRS = 3


@dataclass
class Pair:
    name: str
    ours: RunningService
    theirs: MlflowModelsServe

    def stop(self) -> None:
        self.ours.terminate()
        self.theirs.terminate()


class ServerPool:
    """`get(key)` registers the zoo model `key` once, and serves it with both servers until evicted."""

    def __init__(self, mlflow_server: MlflowServer, root: Path) -> None:
        self.mlflow_server = mlflow_server
        self.root = root
        self.names: dict[str, str] = {}
        self.pairs: OrderedDict[str, Pair] = OrderedDict()

    def name(self, key: str) -> str:
        if key not in self.names:
            self.names[key] = register(key, self.mlflow_server.uri)
        return self.names[key]

    def get(self, key: str) -> Pair:
        if key in self.pairs:
            self.pairs.move_to_end(key)
            return self.pairs[key]
        name = self.name(key)
        while len(self.pairs) >= _MAX_PAIRS:
            _, evicted = self.pairs.popitem(last=False)
            evicted.stop()
        uri = f"models:/{name}@Production"
        ours = RunningService(self.service_env(name), log_dir=self.root)
        theirs = MlflowModelsServe(uri, self.mlflow_server.uri, self.root)
        ours.start()
        theirs.start()
        pair = Pair(name, ours, theirs)
        try:
            ours.wait_ready()
            theirs.wait_ready()
        except BaseException:
            pair.stop()
            raise
        self.pairs[key] = pair
        return pair

    def service_env(self, name: str, **settings: str) -> dict[str, str]:
        return {
            "MODEL_URI": f"models:/{name}@Production",
            "MLFLOW_TRACKING_URI": self.mlflow_server.uri,
            "RELOAD_INTERVAL_S": "0",
            "CAPTURE_URI": "",
            **settings,
        }

    def close(self) -> None:
        for pair in self.pairs.values():
            pair.stop()
        self.pairs.clear()


@pytest.fixture(scope="session")
def zoo(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(mlflow_server, tmp_path_factory.mktemp("compat"))
    yield pool
    pool.close()
