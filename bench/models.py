"""The two models of the benchmark, registered in a throwaway sqlite registry under `bench/out/`.

Both are trained on breast_cancer's 30 numeric features (the demo frame without `size_band`): a scaled
logistic regression (the cheap model: the server's own overhead dominates) and a 200-tree random forest
(the expensive one: batching pays). Each is aliased `Production`, as the service would serve it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training.data import load_demo_frame
from training.train import train_and_register

TARGET = "target"
EXPERIMENT = "bench"


@dataclass(frozen=True)
class BenchModel:
    key: str
    label: str
    name: str
    version: str
    row: dict[str, float]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@Production"


def bench_frame() -> pd.DataFrame:
    return load_demo_frame().drop(columns=["size_band"])


def estimators() -> dict[str, tuple[str, object]]:
    return {
        "logreg": (
            "scaled logistic regression",
            Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))]),
        ),
        "forest": ("random forest, 200 trees", RandomForestClassifier(n_estimators=200, random_state=0)),
        "hgb": ("HistGradientBoostingClassifier", HistGradientBoostingClassifier(random_state=0)),
    }


def tracking_uri(out: Path) -> str:
    return f"sqlite:///{(out / 'mlflow.db').resolve()}"


def register(out: Path, keys: tuple[str, ...] = ("logreg", "forest", "hgb")) -> list[BenchModel]:
    """Register each model once (a second bench run reuses what `bench/out/models.json` lists)."""
    out.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(out)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=(out / "mlartifacts").resolve().as_uri())
    index = out / "models.json"
    known: dict[str, dict[str, str]] = json.loads(index.read_text()) if index.exists() else {}
    frame = bench_frame()
    row = {str(k): float(v) for k, v in frame.drop(columns=[TARGET]).iloc[0].items()}
    models = []
    for key in keys:
        label, estimator = estimators()[key]
        name = f"bench-{key}"
        if key not in known or _missing(client, name):
            logging.getLogger(__name__).info("registering %s (%s)", name, label)
            result = train_and_register(
                name, frame, TARGET, estimator=estimator, alias="Production", tracking_uri=uri, experiment=EXPERIMENT
            )
            known[key] = {"name": name, "version": result.version}
            index.write_text(json.dumps(known, indent=2))
        models.append(BenchModel(key, label, name, known[key]["version"], row))
    return models


def _missing(client: MlflowClient, name: str) -> bool:
    try:
        client.get_model_version_by_alias(name, "Production")
    except mlflow.exceptions.MlflowException:
        return True
    return False


def split_body(model: BenchModel) -> bytes:
    """One row in MLflow's `dataframe_split` format (what `/invocations` clients send)."""
    return json.dumps({"dataframe_split": {"columns": list(model.row), "data": [list(model.row.values())]}}).encode()


def v2_body(model: BenchModel) -> bytes:
    """One row in the Open Inference Protocol: one FP64 input per column (MLServer's pandas codec)."""
    inputs = [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in model.row.items()]
    return json.dumps({"inputs": inputs}).encode()
