"""`POST /admin/reload` (bearer token) and `POST /webhooks/mlflow` (MLflow 3 signed webhooks).

Both answer 404 unless their secret is configured, so an unconfigured replica exposes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request

from service.errors import ClientError
from service.routes.common import AppState, State, read_body
from service.webhook_deliveries import MAX_WEBHOOK_AGE_S

log = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])

ALIAS_EVENTS = {("model_version_alias", "created"), ("model_version_alias", "deleted")}
CREATED = ("registered_model", "created")


def _not_found() -> ClientError:
    return ClientError("Not Found", 404, "NOT_FOUND")


def _unauthorized(message: str) -> ClientError:
    return ClientError(message, 401, "UNAUTHENTICATED")


@router.post("/admin/reload")
async def reload(request: Request, state: State) -> dict[str, Any]:
    """Resolve the aliases now and load what moved; answers the versions before and after (by model when
    several are served)."""
    token = state.settings.admin_token
    if token is None:
        raise _not_found()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise _unauthorized("a valid 'Authorization: Bearer <ADMIN_TOKEN>' header is required")
    if state.selection is not None:
        await state.selection.follow_once()
    models = list(state.models)
    results = await asyncio.gather(*(asyncio.to_thread(served.manager.refresh, True) for served in models))
    shadows = [served.shadow.follower for served in models if served.shadow is not None]  # issue 18
    await asyncio.gather(*(asyncio.to_thread(follower.refresh, True) for follower in shadows))
    answers = {
        served.name: {"previous": r.previous, "current": r.current} for served, r in zip(models, results, strict=True)
    }
    if len(models) == 1:
        return next(iter(answers.values()))
    return {"models": answers}


@router.post("/webhooks/mlflow")
async def mlflow_webhook(request: Request, state: State) -> dict[str, Any]:
    """Verify an MLflow webhook delivery and, for our model and alias, wake the alias follower. Each
    delivery id is acted on once (service/webhook_deliveries.py): a replay answers 200 `duplicate`."""
    secret = state.settings.webhook_secret
    if secret is None:
        raise _not_found()
    body = await read_body(request, 1_048_576)
    headers = request.headers
    delivery_id, timestamp = headers.get("x-mlflow-delivery-id", ""), headers.get("x-mlflow-timestamp", "")
    verify_signature(secret.get_secret_value(), delivery_id, timestamp, headers.get("x-mlflow-signature", ""), body)
    if not state.webhook_deliveries.first_time(delivery_id, float(timestamp)):
        log.info("webhook: delivery %s was already handled; not acting on it again", delivery_id[:100])
        return {"accepted": True, "reloading": False, "duplicate": True}
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ClientError("the webhook body is not JSON", 400, "BAD_REQUEST") from None
    if not isinstance(event, dict):
        raise ClientError("the webhook body must be a JSON object", 400, "BAD_REQUEST")
    data = event.get("data")
    if not isinstance(data, dict):
        data = {}
    kind = (event.get("entity"), event.get("action"))
    relevant = False
    if state.selection is not None:
        # A model created, or an alias that moved, may change what MODEL_FILTER selects: read it again (one
        # registry call; the followers, the shadows' too, resolve from that read).
        aliases = {state.settings.model_alias, state.settings.shadow_alias} - {None}
        relevant = kind == CREATED or (kind in ALIAS_EVENTS and data.get("alias") in aliases)
        if relevant:
            log.info("webhook: %s.%s for %s; reading MODEL_FILTER now", *kind, data.get("name"))
            state.selection.wake()
        return {"accepted": True, "reloading": relevant}
    shadow_moved = _wake_shadow(state, kind, data)  # shadow scoring (issue 18)
    served = state.models.find(data.get("name"))
    if kind in ALIAS_EVENTS and served is not None:
        target = served.uri
        if target.alias is not None and data.get("alias") == target.alias:
            log.info("webhook: %s.%s for %s; resolving now", *kind, target)
            served.manager.wake()
            relevant = True
    return {"accepted": True, "reloading": relevant or shadow_moved}


def _wake_shadow(state: AppState, kind: tuple[object, object], data: dict[str, Any]) -> bool:
    """An alias event for a served model's shadow alias wakes its shadow follower (service/shadow.py)."""
    served = state.models.find(data.get("name"))
    shadow = served.shadow if served is not None else None
    if kind not in ALIAS_EVENTS or shadow is None or data.get("alias") != shadow.alias:
        return False
    log.info("webhook: %s.%s for %s's shadow @%s; resolving now", *kind, data.get("name"), shadow.alias)
    shadow.follower.wake()
    return True


def verify_signature(secret: str, delivery_id: str, timestamp: str, signature: str, body: bytes) -> None:
    """MLflow 3: `v1,` + base64(HMAC-SHA256(secret, "{delivery_id}.{timestamp}.{body}")), fresh within 5 min."""
    if not (delivery_id and timestamp and signature):
        raise _unauthorized("missing X-MLflow-Delivery-Id, X-MLflow-Timestamp or X-MLflow-Signature")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_WEBHOOK_AGE_S:
        raise _unauthorized("stale or invalid X-MLflow-Timestamp (older than 5 minutes)")
    payload = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise _unauthorized("bad X-MLflow-Signature")
