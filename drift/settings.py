"""The settings of one drift check, made once from the command line and the environment.

Environment: `CAPTURE_URI` (default of `--capture-uri`, else `./capture`) and MLflow's own
`MLFLOW_TRACKING_URI` (else `sqlite:///mlflow.db`). Relative local paths (a sqlite file, the capture
folder, `--retrain-data`) are made absolute, because the retraining runs in the project's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drift.selection import Selection
from drift.shadow_settings import LiveBounds, Tolerance
from drift.verdict import Thresholds
from service.model_uri import ModelURI

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_CAPTURE_URI = "./capture"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODEL_PLACEHOLDER = "{model}"
"""Replaced by each model's name in `--retrain-data`, so one job retrains every model on its own data."""
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class RetrainRequest:
    """What `--retrain` asked for."""

    data: str
    target: str
    promote: bool
    cooldown: timedelta
    project_uri: str
    stage: str | None = None
    """Set when the model is followed by stage URI: the retraining promotes by transition into it."""
    live: LiveBounds | None = None
    """Promotion waits for live evidence (`--shadow-min-rows`): see drift/retrain.py."""


@dataclass(frozen=True)
class DriftSettings:
    """Everything one check needs; see `python -m drift run --help` for each field's meaning."""

    model_uri: ModelURI
    capture_uri: str
    tracking_uri: str
    window: timedelta
    window_text: str
    window_end: datetime
    thresholds: Thresholds
    min_rows: int
    max_rows: int
    categorical: tuple[str, ...] = ()
    include_prediction: bool = False
    pushgateway: str | None = None
    retrain: RetrainRequest | None = None
    seed: int = 0
    shadow_tolerance: Tolerance = field(default_factory=Tolerance)
    """When the shadow's numeric output agrees with production's (the report's disagreement section)."""
    selection: Selection | None = None
    """Several models (a URI list or a filter): the job checks each with `for_model`; None: `model_uri` only."""
    time_budget: timedelta | None = None
    """With a selection: no model's check starts once this much time has passed since the job started."""

    def for_model(self, uri: ModelURI) -> DriftSettings:
        """The settings of one model's check: its URI, its stage and `{model}` in `--retrain-data` filled in."""
        retrain = self.retrain
        if retrain is not None:
            retrain = replace(retrain, data=retrain.data.replace(MODEL_PLACEHOLDER, uri.name), stage=uri.stage)
        return replace(self, model_uri=uri, retrain=retrain, selection=None)


def parse_duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d`, `90s`, `2w` (a positive number and one unit) as a timedelta."""
    match = _DURATION.match(text.strip())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{text!r} is not a duration: use a positive number and a unit, like 30m, 24h or 7d")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def format_duration(length: timedelta) -> str:
    """The shortest `<n><unit>` spelling of a duration (`1d`, `90m`, `45s`)."""
    seconds = length.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def absolute_local(uri: str) -> str:
    """A local path made absolute; URIs with a scheme (`s3://`, `file://`) as they are."""
    return uri if "://" in uri else str(Path(uri).expanduser().resolve())


def absolute_tracking_uri(uri: str) -> str:
    """`sqlite:///relative.db` made absolute (`sqlite:////abs/relative.db`); other URIs as they are."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def retrain_request(
    data: str | None,
    target: str | None,
    promote: bool,
    cooldown: timedelta,
    project_uri: str | None,
    stage: str | None = None,
    live: LiveBounds | None = None,
) -> RetrainRequest:
    """The retraining settings; `--retrain` without its data or target is a usage error (ValueError)."""
    if not data or not target:
        missing = [flag for flag, value in (("--retrain-data", data), ("--target", target)) if not value]
        raise ValueError(f"--retrain needs {' and '.join(missing)}")
    return RetrainRequest(
        data=absolute_local(data),
        target=target,
        promote=promote,
        cooldown=cooldown,
        project_uri=absolute_local(project_uri) if project_uri else str(PROJECT_ROOT),
        stage=stage,
        live=live,
    )


def environment_defaults(environ: Mapping[str, str]) -> tuple[str, str]:
    """The capture root and tracking URI the environment gives (or the defaults)."""
    capture = environ.get("CAPTURE_URI") or DEFAULT_CAPTURE_URI
    tracking = environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    return capture, tracking


def now_utc() -> datetime:
    return datetime.now(UTC)
