"""The many-models bench's registry: N registered logistic regressions made from one logged model.

One model is trained and logged once (`train_and_register`, as training does); the other N-1 registered
models each get a version whose source is that same logged model (`create_model_version`), so registering
100 takes seconds, not 100 trainings. Every model gets the tag `serve = 'true'` and tags `in_<k> = 'true'`
for each served set it belongs to (the first k models), so a `MODEL_FILTER` selects the first 1, 10, 50 or
all of them. Also: a spare version of the first model (the alias move) and a version whose artifact is
broken (an MLmodel naming a loader module that does not exist: the failed load).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bench.models import TARGET, bench_frame
from training.train import train_and_register

log = logging.getLogger(__name__)
ALIAS = "Production"
BROKEN_MLMODEL = """\
flavors:
  python_function:
    loader_module: aliasserve_bench_no_such_module
    python_version: 3.11.0
"""


@dataclass(frozen=True)
class ManyModels:
    names: list[str]
    spare_version: str
    """A second version of `names[0]`, not aliased: the alias move goes there."""
    broken_version: str
    """A version of `names[1]` whose artifact cannot be loaded."""
    row: dict[str, float]

    @staticmethod
    def selection(k: int) -> str:
        """The MODEL_FILTER serving the first k models."""
        return f"tags.in_{k} = 'true'"


def name_of(prefix: str, i: int) -> str:
    return f"{prefix}-{i:03d}"


def register_many(tracking_uri: str, count: int, sizes: tuple[int, ...], prefix: str = "many") -> ManyModels:
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    frame = bench_frame()
    first = name_of(prefix, 0)
    estimator = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
    trained = train_and_register(
        first, frame, TARGET, estimator=estimator, alias=ALIAS, tracking_uri=tracking_uri, experiment=prefix
    )
    source = f"models:/{first}/{trained.version}"  # the server copies the logged model's lineage from it
    client.set_registered_model_tag(first, "serve", "true")
    for key in _tags(0, sizes):
        client.set_registered_model_tag(first, key, "true")
    names = [first]
    for i in range(1, count):
        name = name_of(prefix, i)
        client.create_registered_model(name, tags=dict.fromkeys(("serve", *_tags(i, sizes)), "true"))
        version = client.create_model_version(name, source, await_creation_for=0)
        client.set_registered_model_alias(name, ALIAS, version.version)
        names.append(name)
    spare = client.create_model_version(first, source, await_creation_for=0).version
    broken = _broken_version(client, names[1 % count], prefix)
    log.info("registered %d models from one logged model (source %s)", count, source)
    row = {str(k): float(v) for k, v in frame.drop(columns=[TARGET]).iloc[0].items()}
    return ManyModels(names, str(spare), broken, row)


def _tags(i: int, sizes: tuple[int, ...]) -> list[str]:
    return [f"in_{k}" for k in sizes if i < k]


def _broken_version(client: MlflowClient, name: str, prefix: str) -> str:
    """A version of `name` whose artifact is an MLmodel file that names a loader module that does not exist."""
    experiment = client.get_experiment_by_name(prefix)
    assert experiment is not None  # training created it
    run = client.create_run(experiment.experiment_id, run_name="broken-model")
    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder) / "broken-model"
        model_dir.mkdir()
        (model_dir / "MLmodel").write_text(BROKEN_MLMODEL)
        client.log_artifacts(run.info.run_id, str(model_dir), "broken-model")
    client.set_terminated(run.info.run_id)
    source = f"{run.info.artifact_uri}/broken-model"
    return str(client.create_model_version(name, source, run_id=run.info.run_id, await_creation_for=0).version)
