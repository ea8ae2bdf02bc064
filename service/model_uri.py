"""`models:/<name>@<alias>` (followed) and `models:/<name>/<version>` (pinned)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[A-Za-z0-9_\-]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)$")


@dataclass(frozen=True)
class ModelURI:
    """A parsed model URI: exactly one of `alias` and `version` is set."""

    name: str
    alias: str | None = None
    version: str | None = None

    @property
    def following(self) -> bool:
        return self.alias is not None

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else f"models:/{self.name}/{self.version}"


def parse_model_uri(uri: str) -> ModelURI:
    """Parse a registry URI or raise ValueError saying which forms are accepted."""
    if match := _ALIAS.match(uri):
        alias = match["alias"]
        if alias.lower() == "latest" or re.fullmatch(r"v\d+", alias):
            raise ValueError(f"MODEL_URI {uri!r}: '{alias}' is a reserved alias name in MLflow")
        return ModelURI(name=match["name"], alias=alias)
    if match := _VERSION.match(uri):
        return ModelURI(name=match["name"], version=match["version"])
    raise ValueError(
        f"MODEL_URI {uri!r} is not a registry URI: use models:/<name>@<alias> to follow an alias "
        "or models:/<name>/<version> to pin a version"
    )
