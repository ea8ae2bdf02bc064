"""Every setting of the predictor, read once from the environment (or `python -m service` flags)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.model_uri import ModelURI, parse_model_uris


class Settings(BaseSettings):
    """Environment variables are the field names in upper case (`MODEL_URI`, `RELOAD_INTERVAL_S`, ...)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    model_uri: str = ""
    """`models:/<name>@<alias>` follows the alias, `models:/<name>/<stage>` the latest version in that stage
    (Staging, Production, Archived; any case); `models:/<name>/<version>` pins a version. Several URIs,
    comma-separated, are each served (`/invocations/<name>`) and followed on their own. Required unless
    `MODEL_FILTER` is set (never both)."""

    model_filter: str | None = None
    """Serve every registered model this MLflow search filter selects (e.g. `tags.serve = 'true'`) at
    `MODEL_ALIAS`, instead of `MODEL_URI`; re-read on each poll and on MLflow's registered-model and alias
    webhooks, so a model tagged later starts serving and one untagged stops (drained)."""

    model_alias: str = Field(default="Production", pattern=r"^[A-Za-z0-9_\-]+$")
    """The alias each model `MODEL_FILTER` selects is served at."""

    model_startup_bound_s: float = Field(default=120.0, ge=0)
    """With several models: how long after start a model that has no version serving keeps `/health/ready`
    at 503. Past it the others serve without it (it stays visible: `/model`, `/v2/models/<name>/ready`,
    `model_ready{model}` 0, alert AliasserveModelNotServing). Models selected after start never hold the
    service back."""

    model_load_concurrency: int = Field(default=2, ge=1)
    """Versions loaded at the same time, across models (100 models starting load two at a time)."""

    mlflow_tracking_uri: str = "sqlite:///mlflow.db"
    """MLflow's own variable; any tracking server URI works."""

    reload_interval_s: float = Field(default=5.0, ge=0)
    """How often the alias is resolved (jittered by up to 20%); 0 disables polling."""

    webhook_secret: SecretStr | None = None
    """Enables `POST /webhooks/mlflow`, verified with this HMAC secret. Unset: the route answers 404."""

    admin_token: SecretStr | None = None
    """Enables `POST /admin/reload` with `Authorization: Bearer <token>`. Unset: 404."""

    capture_uri: str = "./capture"
    """Where inference inputs are recorded for drift monitoring (a folder); empty disables capture."""

    capture_sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of requests whose rows are recorded."""

    capture_queue_rows: int = Field(default=100_000, ge=1)
    """Rows held in memory awaiting a write; beyond this, rows are dropped and counted."""

    capture_flush_rows: int = Field(default=10_000, ge=1)
    """A capture file is written once this many rows are waiting ..."""

    capture_flush_interval_s: float = Field(default=60.0, gt=0)
    """... or this many seconds after the oldest waiting row arrived."""

    max_batch_size: int = Field(default=64, ge=1)
    """Most requests merged into one model call by adaptive batching; 1 disables batching.

    64 and a 2 ms wait: best of the sweep in bench/ (forest, 8 connections: 266 req/s vs 178 at 32 / 0 ms).
    The wait applies only while traffic is concurrent; a lone client never waits."""

    max_batch_wait_ms: float = Field(default=2.0, ge=0)
    """Longest a request waits for batch-mates before the model is called."""

    max_request_bytes: int = Field(default=10_485_760, ge=1)
    """Larger request bodies get 413, checked while the body is read."""

    max_rows: int = Field(default=10_000, ge=1)
    """Requests with more rows get 413."""

    request_timeout_s: float = Field(default=60.0, gt=0)
    """A prediction that takes longer answers 504 (as `mlflow models serve`). A model call still running
    after this long, with every request waiting on it answered, is abandoned to its thread; at most 4 such
    calls may still run, beyond that predictions answer 503."""

    stuck_liveness_s: float = Field(default=120.0, gt=0)
    """While model calls are stuck (the abandoned-call cap is reached) `/health/ready` answers 503 at once;
    after this many seconds stuck without a break `/health/live` answers 503 too, so the kubelet restarts
    the pod (a running call cannot be stopped any other way). Back to 200 as soon as a call returns."""

    header_timeout_s: float = Field(default=10.0, gt=0)
    """A request's headers must be complete this long after the connection opened or the previous response
    was sent: else 408 and the connection is closed. A connection idle for 5 s is closed silently."""

    body_timeout_s: float = Field(default=10.0, gt=0)
    """Longest pause in a request body's bytes while the service waits for them: else 408 and close."""

    max_header_bytes: int = Field(default=65_536, ge=1024)
    """Request line and headers above this size get 431 and the connection is closed."""

    model_cache_size: int = Field(default=2, ge=1)
    """Loaded versions kept in memory, so a rollback to a recent version swaps without downloading."""

    # -- memory budget (issue 17, service/memory_budget.py) --
    model_memory_budget_mb: float = Field(default=0.0, ge=0)
    """Memory the served models may hold together, in MB (each model's own objects, measured after its load;
    `/model` `memory_mb`); 0: no budget. With a budget, models load on their first call (those never called
    load at start while they fit) and the least recently used models not being called are unloaded when a
    load would not fit. A call to an unloaded model waits for its load, up to REQUEST_TIMEOUT_S (then 503)."""
    # -- end memory budget --

    compile: Literal["auto", "off"] = "auto"
    """`auto`: serve scikit-learn models compiled to ONNX Runtime where the compiled form was proven equal to the
    native one at load (service/compiled.py); `off`: native only. MLflow's `onnx` flavor runs on ONNX Runtime."""

    # --- Shadow scoring (issue 18; service/shadow.py) ---
    shadow_alias: str | None = None
    """Follow `models:/<name>@<SHADOW_ALIAS>` too (e.g. `Challenger`) and score sampled requests with it, off
    the response path. Unset: no shadowing. An alias that does not exist yet is normal (nothing shadowed)."""

    shadow_sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of requests scored by the shadow version too."""

    shadow_queue_rows: int = Field(default=10_000, ge=1)
    """Rows waiting for the shadow at most; beyond this, shadow work is dropped and counted, never waited for."""

    shadow_atol: float = Field(default=1e-6, ge=0)
    """Regressors: a row disagrees when |production - shadow| > SHADOW_ATOL + SHADOW_RTOL * |production| ..."""

    shadow_rtol: float = Field(default=0.01, ge=0)
    """... so by default more than 1% apart (the absolute term only matters near zero)."""
    # --- end shadow scoring ---

    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    """Several workers share metrics through prometheus-client's multiprocess mode."""

    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: Literal["json", "text"] = "json"

    docs_enabled: bool = True
    """Serve `/docs`, `/redoc` and `/openapi.json`; turn off to hide the API description."""

    shutdown_grace_s: float = Field(default=25.0, ge=0)
    """On SIGTERM, how long in-flight requests get to finish before the process exits."""

    code_version: str = Field(default="", validation_alias="ALIASSERVE_GIT_COMMIT")
    """The commit this build came from (the image's build argument `GIT_COMMIT`); shown in `/model`, and
    the code version training records when it runs in the image."""

    prometheus_multiproc_dir: str | None = None
    """prometheus-client's multiprocess folder; prepared automatically when `WORKERS > 1`."""

    @field_validator("model_uri")
    @classmethod
    def _parseable(cls, value: str) -> str:
        if not value.strip():
            return ""
        parse_model_uris(value)
        return value

    @field_validator("shadow_alias", mode="before")
    @classmethod
    def _alias_or_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", "log_format", "compile", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> Settings:
        if self.model_uri and self.model_filter:
            raise ValueError("MODEL_URI and MODEL_FILTER are exclusive: set one (a list of URIs, or a registry filter)")
        if not self.model_uri and not self.model_filter:
            raise ValueError("MODEL_URI is required (models:/<name>@<alias>), or MODEL_FILTER to select models")
        if self.model_alias.lower() == "latest" or re.fullmatch(r"v\d+", self.model_alias):
            raise ValueError(f"MODEL_ALIAS {self.model_alias!r} is a reserved alias name in MLflow")
        return self

    @property
    def models(self) -> list[ModelURI]:
        """Every model `MODEL_URI` lists (none with `MODEL_FILTER`: the selection decides)."""
        return parse_model_uris(self.model_uri) if self.model_uri else []


def apply_mlflow_environment(settings: Settings) -> None:
    """Hand MLflow its settings through its own variables, the one place this module writes the environment.

    Registry calls must fail fast (the follower retries with its own back-off), and registry models are
    trusted code by design: loading any scikit-learn model needs MLflow's deserialization opt-in.
    """
    import os

    os.environ["MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
