"""The manifests agree with the code: env names are settings the predictor reads, ConfigMap values
validate, probes and scrape paths are routes of the app on the port it binds, and the drift CronJob's
command line parses with the drift CLI's own parser."""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.routing import Match

from tests.deploy import manifests
from tests.deploy.dockerfile import parse

PREDICTOR_SETS = ["base", "dev", "prod", "many-models"]

LIBRARY_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"}
"""Read by pyarrow's S3 filesystem (CAPTURE_URI=s3://...), not by the settings."""

TEST_SECRETS = {
    "aliasserve-secrets": {
        "capture-uri": "s3://bucket/aliasserve/capture",
        "retrain-data-uri": "s3://bucket/aliasserve/training/labeled.parquet",
        "aws-access-key-id": "id",
        "aws-secret-access-key": "key",
    }
}
"""The Secret the README has users create, with test values."""

PROCESS_ENV = {"PATH", "HOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "MPLCONFIGDIR", "GIT_PYTHON_REFRESH"}
"""Image variables for the interpreter and libraries (matplotlib's cache, GitPython), not for the app."""


def import_or_skip(module: str) -> ModuleType:
    """Import a module being written in parallel; skip only if that module itself does not exist yet."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and (module == error.name or module.startswith(f"{error.name}.")):
            pytest.skip(f"{module} does not exist yet")
        raise


def settings_env_names(settings: Any) -> set[str]:
    """The environment variables pydantic-settings reads for each field (aliases and prefix included)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif alias is not None and hasattr(alias, "choices"):
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def predictor(name: str) -> manifests.Resource:
    return manifests.one(manifests.render(name), "Deployment", manifests.PREDICTOR)


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_every_variable_given_to_the_predictor_is_a_setting(name: str) -> None:
    settings = import_or_skip("service.settings").Settings
    container = manifests.container(predictor(name))
    given = set(manifests.config_data(manifests.render(name))) | {v["name"] for v in container.get("env", [])}
    given |= set(parse(manifests.REPO / "Dockerfile")[1][-1].env()) - PROCESS_ENV
    unknown = given - settings_env_names(settings) - LIBRARY_ENV
    assert unknown == set(), f"set for the predictor but read by nothing: {sorted(unknown)}"


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_config_map_values_are_valid_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = import_or_skip("service.settings").Settings
    for variable in settings_env_names(settings):
        monkeypatch.delenv(variable, raising=False)
    config = manifests.config_data(manifests.render(name))
    parsed = settings(**{key.lower(): value for key, value in config.items()})
    assert parsed.host not in ("127.0.0.1", "localhost"), "the kubelet and the Service reach the pod IP"


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """`create_app` configures logging and hands MLflow its variables: undo both afterwards."""
    environ = dict(os.environ)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.handlers[:], logger.propagate) for logger in loggers]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield
    os.environ.clear()
    os.environ.update(environ)
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def app_serving_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], bool]:
    """Whether the predictor app routes `GET path` (asked through Starlette's own route matching)."""
    settings_module = import_or_skip("service.settings")
    app_module = import_or_skip("service.app")
    for variable in settings_env_names(settings_module.Settings):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MODEL_URI", "models:/demo@Production")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    monkeypatch.setenv("CAPTURE_URI", "")
    app = app_module.create_app(settings_module.Settings())

    def serves(path: str) -> bool:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
        return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)

    assert not serves("/surely/not/a/route")
    return serves


@pytest.mark.usefixtures("isolated")
def test_probes_and_scrape_paths_are_routes_of_the_app_on_its_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serves = app_serving_get(tmp_path, monkeypatch)
    settings = import_or_skip("service.settings").Settings
    for name in PREDICTOR_SETS:
        resources = manifests.render(name)
        deployment = predictor(name)
        container = manifests.container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        bound = int(manifests.config_data(resources).get("PORT", settings.model_fields["port"].default))
        assert ports["http"] == bound, f"{name}: the app binds {bound}"
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = container[kind]["httpGet"]
            assert serves(probe["path"]), f"{name} {kind}: {probe['path']} is not a GET route"
            assert ports.get(probe["port"], probe["port"]) == bound, f"{name} {kind} port"
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        if "prometheus.io/path" in annotations:
            assert serves(annotations["prometheus.io/path"])
            assert int(annotations["prometheus.io/port"]) == bound
    for endpoint in manifests.one(manifests.render("prod"), "ServiceMonitor")["spec"]["endpoints"]:
        assert serves(endpoint.get("path", "/metrics"))


def test_python_m_entry_points_exist() -> None:
    for package in ("service", "drift"):
        if not (manifests.REPO / package / "__init__.py").exists():
            pytest.skip(f"{package}/ does not exist yet")
        assert (manifests.REPO / package / "__main__.py").exists(), f"`python -m {package}` has no __main__.py"


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_drift_cronjob_command_line_parses_with_the_drift_cli(name: str) -> None:
    cli = import_or_skip("drift.cli")
    resources = manifests.render(name)
    container = manifests.container(manifests.one(resources, "CronJob", manifests.DRIFT))
    env = manifests.env_values(resources, container, TEST_SECRETS)
    argv = [manifests.expand(a, env) for a in container["command"][3:] + container.get("args", [])]
    assert not [a for a in argv if "$(" in a], f"unresolved variables in {argv}"
    try:
        args = cli.build_parser().parse_args(argv)
        if hasattr(cli, "settings_from_args"):
            cli.settings_from_args(args, {k: v for k, v in env.items() if v is not None})
    except (Exception, SystemExit) as error:
        pytest.fail(f"{name}: python -m drift {' '.join(argv)} is rejected: {error}")
    config = manifests.config_data(resources)
    served = manifests.env_values(resources, manifests.container(predictor(name)), TEST_SECRETS)
    assert args.command == "run"
    if "MODEL_FILTER" in config:  # the many-models overlay: the job checks the predictor's selection
        assert "MODEL_URI" not in config, "MODEL_URI and MODEL_FILTER are exclusive"
        assert (args.model_uri, args.model_filter) == (None, config["MODEL_FILTER"])
        assert args.model_alias == config.get("MODEL_ALIAS", args.model_alias)
    else:
        assert str(args.model_uri) == config["MODEL_URI"], "the job must check the model the predictor serves"
    assert args.capture_uri == served["CAPTURE_URI"], "the job must read what the predictor captures"
    assert env["MLFLOW_TRACKING_URI"] == config["MLFLOW_TRACKING_URI"]
