"""Fixtures written once: a real MLflow tracking server, the demo model on it, the predictor process."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest

from tests.processes import MlflowServer, RunningService


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    frame: pd.DataFrame
    tracking_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@Production"

    def service_env(self, **settings: str) -> dict[str, str]:
        """A service following this model: polling and capture off unless `settings` say otherwise."""
        return {
            "MODEL_URI": self.uri,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "RELOAD_INTERVAL_S": "0",
            "CAPTURE_URI": "",
            **settings,
        }


@pytest.fixture(scope="session")
def demo_model(mlflow_server: MlflowServer) -> RegisteredModel:
    """The demo model registered on the session's MLflow server under a unique name, aliased Production."""
    from training.data import load_demo_frame
    from training.train import train_and_register

    mlflow.set_tracking_uri(mlflow_server.uri)
    frame = load_demo_frame()
    name = f"demo-{uuid.uuid4().hex[:8]}"
    result = train_and_register(name, frame, "target", alias="Production", tracking_uri=mlflow_server.uri)
    return RegisteredModel(name, str(result.version), result.run_id, frame, mlflow_server.uri)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """Start `python -m service` with the given environment; every one started is stopped at teardown."""
    started: list[RunningService] = []

    def start(env: dict[str, str], wait: str = "ready") -> RunningService:
        env = {"CAPTURE_URI": str(tmp_path / f"capture-{len(started)}"), **env}
        service = RunningService(env, log_dir=tmp_path)
        service.start()
        started.append(service)
        if wait == "ready":
            service.wait_ready()
        elif wait == "live":
            service.wait_live()
        return service

    yield start
    for service in started:
        service.terminate()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Every logger's handlers, level and propagation as they were before the test.

    Commands run in-process (`drift.cli.main`, `service.logs.configure`) install handlers bound to
    `sys.stdout`/`sys.stderr`, which pytest swaps for a captured stream it closes after the test; a later
    test's log line would then go to a closed stream ("--- Logging error ---" on stderr), and which test
    that hits depends on the order files reach a worker.
    """
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
    known = {id(logger) for logger in loggers}
    for added in logging.Logger.manager.loggerDict.values():
        if isinstance(added, logging.Logger) and id(added) not in known:
            added.handlers[:] = []
    logging.captureWarnings(False)


LONGEST_FILES_FIRST = (
    "tests/compat/test_differential.py",
    "tests/compat/test_many_models_differential.py",
    "tests/service/test_following.py",
    "tests/service/test_many_models.py",
    "tests/backends/test_following.py",
    "tests/containers/test_as_manifested.py",  # first of its unit: its drift job expects nothing captured yet
    "tests/containers/test_many_models_image.py",
    "tests/containers/test_loop.py",
    "tests/loop/test_closed_loop.py",
    "tests/drift/test_audit.py",
    "tests/bench/test_many_models_quick.py",
    "tests/training/test_shadow_gate.py",
    "tests/monitoring/test_service_scrape.py",
    "tests/drift/test_retrain.py",
    "tests/service/test_shadow.py",
    "tests/drift/test_cli.py",
    "tests/service/test_bad_input.py",
    "tests/service/test_many_models_isolation.py",
    "tests/service/test_batching.py",
    "tests/service/test_compiled_http.py",
    "tests/service/test_many_models_webhooks.py",
    "tests/service/test_startup.py",
    "tests/training/test_cli.py",
    "tests/monitoring/test_workers.py",
    "tests/loadtests/test_smoke.py",
)
"""Files whose tests take minutes (`make test` prints the slowest), handed to the workers first. The containers
come after the first units: under `.ci/with-docker` their images are still building in the background then."""

SHARED_SESSION_DIRS = ("tests/backends/", "tests/compat/", "tests/containers/", "tests/hardening/")
"""Folders whose files share a costly session or package fixture: PostgreSQL + moto + an MLflow server on
them with three trained versions (backends), the zoo's registered models and running server pairs (compat),
the containers' stack (PostgreSQL, moto, the MLflow image, the seeded demo), the hardening target. Each runs
whole on one worker (`pytest_xdist_make_scheduler`), so that set-up is paid once per run, not once per worker
that happens to draw one of the files."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first, then files with more tests first (what xdist's own reordering does).

    `make test` runs `-n 2 --dist loadfile --no-loadscope-reorder`: each file goes whole to one worker, in
    collection order. xdist's default order (most tests first) left the files of one or two long tests to the
    end, where one of them ran alone for minutes while the other worker idled.
    """
    rank = {name: i for i, name in enumerate(LONGEST_FILES_FIRST)}
    counts: dict[str, int] = {}
    for item in items:
        counts[item.nodeid.split("::")[0]] = counts.get(item.nodeid.split("::")[0], 0) + 1

    def order(item: pytest.Item) -> tuple[int, int]:
        path = item.nodeid.split("::")[0]
        return rank.get(path, len(rank)), -counts[path]

    items.sort(key=order)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` with the files of each SHARED_SESSION_DIRS folder as one unit of work (xdist's
    LoadFileScheduling otherwise: whole files, in collection order). Other modes: xdist's own choice."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedSessionScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path: str = super()._split_scope(nodeid)
            return next((folder for folder in SHARED_SESSION_DIRS if path.startswith(folder)), path)

    return SharedSessionScheduling(config, log)
