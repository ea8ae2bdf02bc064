"""Load scenarios for the predictor: steady and burst traffic, and an alias moved during the run.

Payloads are rows of the served version's own reference data (`reference/reference.parquet` of its
training run, found through `GET /model` and MLflow), so the load looks like what the model was trained
on. Any answer but 200 is a failure; every `X-Model-Version` seen is counted.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --tracking-uri sqlite:///mlflow.db

`AliasMover` (one user) moves `--alias` back and forth between the two newest versions of the served
model every `--move-every` seconds and puts the alias back where it was at the end; with fewer than two
versions it does nothing. Leave it out by naming the classes to run: `... SteadyUser BurstUser`.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, User, between, constant, events, task
from locust.env import Environment

log = logging.getLogger("loadtest")
SINGLE_ROW_BODIES = 500
BURST_BODIES = 100
HEADERS = {"Content-Type": "application/json"}


class Scenario:
    """What the users share: request bodies, the model's name, versions seen, alias moves."""

    bodies: ClassVar[list[str]] = []
    burst_bodies: ClassVar[list[str]] = []
    model_name: ClassVar[str] = ""
    versions_seen: ClassVar[Counter[str]] = Counter()
    moves: ClassVar[int] = 0
    failures: ClassVar[int] = 0


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _arguments(parser: Any) -> None:
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db", help="MLflow tracking URI of the model")
    parser.add_argument("--alias", default="Production", help="the alias the predictor follows")
    parser.add_argument("--move-every", type=float, default=5.0, help="seconds between alias moves")
    parser.add_argument("--summary-file", default="", help="write versions seen, moves and failures as JSON")


@events.init.add_listener  # type: ignore[untyped-decorator]
def _load_payloads(environment: Environment, **_: Any) -> None:
    """At start-up, before the run's clock starts: importing MLflow and downloading take seconds."""
    if environment.parsed_options is None or not environment.host:
        return  # not a run from the command line (e.g. the web UI without --host): nothing to prepare
    try:
        _payloads_from_reference(environment)
    except Exception as exc:
        raise SystemExit(f"error: cannot build payloads from the served model's reference data: {exc}") from None


def _payloads_from_reference(environment: Environment) -> None:
    import httpx
    import mlflow
    import pyarrow.parquet as pq

    options = environment.parsed_options
    assert options is not None, "run through locust's command line"
    served = httpx.get(f"{environment.host}/model", timeout=10).raise_for_status().json()
    Scenario.model_name = served["name"]
    path = mlflow.artifacts.download_artifacts(
        run_id=served["run_id"], artifact_path="reference/reference.parquet", tracking_uri=options.tracking_uri
    )
    records = pq.read_table(path).to_pylist()
    columns = list(records[0])
    rows = [[_plain(record[c]) for c in columns] for record in records]
    rng = random.Random(0)

    def body(n: int) -> str:
        return json.dumps({"dataframe_split": {"columns": columns, "data": rng.sample(rows, min(n, len(rows)))}})

    Scenario.bodies = [body(1) for _ in range(SINGLE_ROW_BODIES)]
    Scenario.burst_bodies = [body(rng.choice((1, 4, 16, 64))) for _ in range(BURST_BODIES)]
    log.info("%d reference rows of %s version %s loaded as payloads", len(rows), served["name"], served["version"])


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


class _Predicting(FastHttpUser):
    abstract = True

    def predict(self, body: str, name: str) -> None:
        with self.client.post("/invocations", data=body, headers=HEADERS, name=name, catch_response=True) as response:
            version = response.headers.get("X-Model-Version") if response.headers else None
            if response.status_code != 200:
                Scenario.failures += 1
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
            elif not version:
                Scenario.failures += 1
                response.failure("no X-Model-Version header")
            else:
                Scenario.versions_seen[version] += 1


class SteadyUser(_Predicting):
    """One row at a time, a few requests a second each: the usual online traffic."""

    weight = 3
    wait_time = between(0.05, 0.25)

    @task
    def one_row(self) -> None:
        self.predict(random.choice(Scenario.bodies), "/invocations (1 row)")


class BurstUser(_Predicting):
    """Bursts of back-to-back requests of 1-64 rows, then a pause."""

    weight = 1
    wait_time = between(0.5, 2.0)

    @task
    def burst(self) -> None:
        for _ in range(random.randint(5, 20)):
            self.predict(random.choice(Scenario.burst_bodies), "/invocations (burst)")


class AliasMover(User):
    """Moves the alias between the two newest versions while the others load the service."""

    fixed_count = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        from mlflow import MlflowClient

        options = self.environment.parsed_options
        self.alias = options.alias
        self.client = MlflowClient(options.tracking_uri)
        self.original = self.client.get_model_version_by_alias(Scenario.model_name, self.alias).version
        found = self.client.search_model_versions(f"name = '{Scenario.model_name}'")
        newest = sorted((str(v.version) for v in found), key=int)[-2:]
        self.versions = newest if len(newest) == 2 else []
        if not self.versions:
            log.warning("%s has one version: the alias is not moved", Scenario.model_name)

    @task
    def move(self) -> None:
        gevent.sleep(self.environment.parsed_options.move_every)
        if not self.versions:
            return
        current = self.client.get_model_version_by_alias(Scenario.model_name, self.alias).version
        target = self.versions[0] if str(current) == self.versions[1] else self.versions[1]
        with self.environment.events.request.measure("ALIAS", f"move {self.alias}"):
            self.client.set_registered_model_alias(Scenario.model_name, self.alias, target)
        Scenario.moves += 1

    def on_stop(self) -> None:
        if self.versions:
            self.client.set_registered_model_alias(Scenario.model_name, self.alias, self.original)


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _summary(environment: Environment, **_: Any) -> None:
    summary = {
        "model": Scenario.model_name,
        "versions_seen": dict(Scenario.versions_seen),
        "alias_moves": Scenario.moves,
        "failures": Scenario.failures,
    }
    log.info("summary: %s", summary)
    options = environment.parsed_options
    if options is not None and options.summary_file:
        Path(options.summary_file).write_text(json.dumps(summary, indent=2))
