"""`python -m service`: check the configuration, then serve with uvicorn.

Every setting is an environment variable and also a flag (`--model-uri`, `--reload-interval-s`, ...);
flags win. A bad configuration or an unknown model/alias ends with one line and exit code 2; a registry
that cannot be reached at start is not fatal: the server comes up live but not ready, and keeps trying.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    from service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    for name, field in Settings.model_fields.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=field.description)
    args = parser.parse_args(argv)
    for name, value in vars(args).items():
        if value is not None:
            alias = Settings.model_fields[name].validation_alias
            os.environ[alias if isinstance(alias, str) else name.upper()] = value
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    if (problem := _preflight(settings)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    _serve(settings)
    return 0


def _one_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field and field not in message else message)
    return "; ".join(parts)


def _preflight(settings: object) -> str | None:
    """Unknown model or alias, or a filter the registry refuses: a configuration error. Unreachable
    registry: start anyway, not ready."""
    from service.registry import AliasNotFound, Registry, RegistryUnavailable
    from service.settings import Settings, apply_mlflow_environment

    assert isinstance(settings, Settings)
    apply_mlflow_environment(settings)
    registry = Registry(settings.mlflow_tracking_uri)
    try:
        if settings.model_filter:
            registry.search(settings.model_filter)
        for uri in settings.models:
            registry.resolve(uri)
    except AliasNotFound as exc:
        return str(exc)
    except RegistryUnavailable as exc:
        print(f"warning: MLflow registry not reachable yet ({exc}); starting not ready", file=sys.stderr)
    return None


def _serve(settings: object) -> None:
    import uvicorn

    from service.logs import configure, uvicorn_log_config
    from service.server import ConnectionLimits, protocol_factory
    from service.settings import Settings

    assert isinstance(settings, Settings)
    configure(settings.log_level, settings.log_format)
    if settings.workers > 1 or settings.prometheus_multiproc_dir:
        _prepare_multiprocess_dir(settings.prometheus_multiproc_dir)
    # uvicorn drains on SIGTERM, then restores the previous handler and raises the signal again: make that
    # handler a clean exit, so an orderly stop ends with code 0 (Kubernetes, systemd and CI read it).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "service.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http=protocol_factory(
            ConnectionLimits(settings.header_timeout_s, settings.body_timeout_s, settings.max_header_bytes)
        ),
        log_config=uvicorn_log_config(),
        log_level=settings.log_level,
        access_log=False,
        timeout_keep_alive=5,  # also how long a new connection may stay silent (service/server.py)
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        limit_concurrency=None,
        h11_max_incomplete_event_size=65536,
        server_header=False,
    )


def _prepare_multiprocess_dir(configured: str | None) -> None:
    """prometheus-client's multiprocess folder must exist and be empty before any worker starts.

    Only its `*.db` files are removed: the folder may be a mounted volume that cannot itself be deleted.
    """
    folder = configured or tempfile.mkdtemp(prefix="aliasserve-metrics-")
    os.makedirs(folder, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


if __name__ == "__main__":
    sys.exit(main())
