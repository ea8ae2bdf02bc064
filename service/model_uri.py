"""`models:/<name>@<alias>` and `models:/<name>/<stage>` (followed), `models:/<name>/<version>` (pinned)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[A-Za-z0-9_\-]+)$")
_SUFFIX = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<suffix>[^/@]+)$")

STAGES = ("Staging", "Production", "Archived")
"""MLflow's registry stages a URI may name (deprecated by MLflow, still served by `mlflow models serve`)."""


@dataclass(frozen=True)
class ModelURI:
    """A parsed model URI: exactly one of `alias`, `stage` and `version` is set."""

    name: str
    alias: str | None = None
    version: str | None = None
    stage: str | None = None
    """Canonical spelling (`Production`); the latest version in that stage is served."""

    @property
    def following(self) -> bool:
        return self.alias is not None or self.stage is not None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.stage or self.version}"


def canonical_stage(stage: str) -> str | None:
    """The stage's canonical spelling (MLflow matches stages case-insensitively), None if not a stage."""
    return next((s for s in STAGES if s.lower() == stage.lower()), None)


def parse_model_uri(uri: str) -> ModelURI:
    """Parse a registry URI or raise ValueError saying which forms are accepted."""
    if match := _ALIAS.match(uri):
        alias = match["alias"]
        if alias.lower() == "latest" or re.fullmatch(r"v\d+", alias):
            raise ValueError(f"MODEL_URI {uri!r}: '{alias}' is a reserved alias name in MLflow")
        return ModelURI(name=match["name"], alias=alias)
    if match := _SUFFIX.match(uri):
        suffix = match["suffix"]
        if suffix.isdigit():
            return ModelURI(name=match["name"], version=suffix)
        if stage := canonical_stage(suffix):
            return ModelURI(name=match["name"], stage=stage)
        raise ValueError(f"MODEL_URI {uri!r}: '{suffix}' is neither a version number nor a stage ({', '.join(STAGES)})")
    raise ValueError(
        f"MODEL_URI {uri!r} is not a registry URI: use models:/<name>@<alias> to follow an alias, "
        "models:/<name>/<stage> to follow a stage, or models:/<name>/<version> to pin a version"
    )


def parse_model_uris(text: str) -> list[ModelURI]:
    """`MODEL_URI` as a list: `models:/a@Production,models:/b/3`. Empty items are ignored; a model named twice
    is refused (each model is served and checked once). Raises ValueError naming the URI or model at fault."""
    uris = [parse_model_uri(part.strip()) for part in text.split(",") if part.strip()]
    if not uris:
        raise ValueError(f"MODEL_URI {text!r} names no model: give one or more model URIs separated by commas")
    names = [uri.name for uri in uris]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"MODEL_URI {text!r} names {', '.join(twice)} more than once")
    return uris
