"""Which models one drift job checks: the predictor's own selection, with the same names and meaning.

`MODEL_URI` (or `--model-uri`) is one registry URI or several, comma-separated; `MODEL_FILTER` (or
`--model-filter`) is an MLflow registered-model search filter (`tags.serve = 'true'`), each match checked
at `MODEL_ALIAS` (`--model-alias`, default `Production`). The two are exclusive. The drift job's own
retraining claims (registered models tagged `aliasserve.retrain_claim_for`, see drift/retrain.py) are
never selected, whatever the filter matches.

The predictor resolves the same selection (service/); the two should become one function when both
exist on one branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow import MlflowClient
from mlflow.entities.model_registry import RegisteredModel

from service.model_uri import ModelURI, parse_model_uri
from service.model_uri import parse_model_uris as parse_uri_list  # one reading of MODEL_URI lists
from service.selection import RETRAIN_CLAIM_TAG, is_retrain_claim

CLAIM_FOR_TAG = RETRAIN_CLAIM_TAG
"""The tag marking a retraining claim (one definition, shared with the predictor's selection)."""
DEFAULT_ALIAS = "Production"
_PAGE = 1000


class ModelURIs(tuple[ModelURI, ...]):
    """Several model URIs; printed as `MODEL_URI` is written (comma-separated)."""

    __slots__ = ()

    def __str__(self) -> str:
        return ",".join(str(uri) for uri in self)


def parse_model_uris(text: str) -> ModelURIs:
    """`models:/a@Production,models:/b/3`, read exactly as the predictor reads `MODEL_URI`."""
    return ModelURIs(parse_uri_list(text))


@dataclass(frozen=True)
class Selection:
    """The models a job checks: a list of URIs, or a registry filter at an alias."""

    uris: ModelURIs = field(default_factory=ModelURIs)
    filter: str | None = None
    alias: str = DEFAULT_ALIAS

    @property
    def single(self) -> ModelURI | None:
        """The one model of a single `MODEL_URI` (the job behaves as before there); None otherwise."""
        return self.uris[0] if self.filter is None and len(self.uris) == 1 else None

    def describe(self) -> str:
        return str(self.uris) if self.filter is None else f"models matching {self.filter!r} at @{self.alias}"


def selection_from(
    uris: ModelURIs | None, model_filter: str | None, alias: str | None, environ: Mapping[str, str]
) -> Selection:
    """The selection from flags, else from `MODEL_URI` / `MODEL_FILTER` / `MODEL_ALIAS`; raises ValueError.

    Flags win over the environment as a whole: a job given `--model-filter` ignores a `MODEL_URI` that the
    pod's environment also carries.
    """
    if uris is not None and alias is not None and model_filter is None:
        raise ValueError("--model-alias goes with a filter (--model-filter), not with --model-uri")
    if uris is None and model_filter is None:
        text = environ.get("MODEL_URI", "").strip()
        uris = parse_model_uris(text) if text else None
        model_filter = environ.get("MODEL_FILTER", "").strip() or None
        alias = alias or environ.get("MODEL_ALIAS", "").strip() or None
    if uris is not None and model_filter is not None:
        raise ValueError(
            "give either model URIs (--model-uri, MODEL_URI) or a filter (--model-filter, MODEL_FILTER), not both"
        )
    if model_filter is not None:
        checked = parse_model_uri(f"models:/any@{alias or DEFAULT_ALIAS}")  # the alias rules of a URI
        return Selection(filter=model_filter, alias=str(checked.alias))
    if uris is None:
        raise ValueError("no model to check: give --model-uri (or MODEL_URI) or --model-filter (or MODEL_FILTER)")
    return Selection(uris=uris)


def _matching(client: MlflowClient, model_filter: str) -> list[RegisteredModel]:
    found: list[RegisteredModel] = []
    token: str | None = None
    while True:
        page = client.search_registered_models(filter_string=model_filter, max_results=_PAGE, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def selected_models(client: MlflowClient, selection: Selection) -> list[ModelURI]:
    """The URIs to check (a filter's sorted by name); a filter is one registry search (MlflowException on failure)."""
    if selection.filter is None:
        return list(selection.uris)
    models = [m for m in _matching(client, selection.filter) if not is_retrain_claim(m.name, dict(m.tags or {}))]
    return [ModelURI(name=model.name, alias=selection.alias) for model in sorted(models, key=lambda m: m.name)]
