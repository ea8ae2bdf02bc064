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
from service.routes.common import State, read_body
from service.webhook_deliveries import MAX_WEBHOOK_AGE_S

log = logging.getLogger(__name__)
router = APIRouter(tags=["admin"])

ALIAS_EVENTS = {("model_version_alias", "created"), ("model_version_alias", "deleted")}


def _not_found() -> ClientError:
    return ClientError("Not Found", 404, "NOT_FOUND")


def _unauthorized(message: str) -> ClientError:
    return ClientError(message, 401, "UNAUTHENTICATED")


@router.post("/admin/reload")
async def reload(request: Request, state: State) -> dict[str, Any]:
    """Resolve the alias now and load it if it moved; answers the versions before and after."""
    token = state.settings.admin_token
    if token is None:
        raise _not_found()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise _unauthorized("a valid 'Authorization: Bearer <ADMIN_TOKEN>' header is required")
    result = await asyncio.to_thread(state.manager.refresh, True)
    if state.predictor.shadow is not None:
        await asyncio.to_thread(state.predictor.shadow.follower.refresh, True)
    return {"previous": result.previous, "current": result.current}


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
    target = state.manager.target
    relevant = (
        (event.get("entity"), event.get("action")) in ALIAS_EVENTS
        and data.get("name") == target.name
        and target.alias is not None
        and data.get("alias") == target.alias
    )
    if relevant:
        log.info("webhook: %s.%s for %s; resolving now", event.get("entity"), event.get("action"), target)
        state.manager.wake()
    shadow = state.predictor.shadow  # shadow scoring (issue 18): its alias is followed the same way
    shadow_event = (event.get("entity"), event.get("action")) in ALIAS_EVENTS and data.get("name") == target.name
    if shadow is not None and shadow_event and data.get("alias") == shadow.alias:
        log.info(
            "webhook: %s.%s for the shadow %s; resolving now",
            event.get("entity"),
            event.get("action"),
            shadow.alias,
        )
        shadow.follower.wake()
        relevant = True
    return {"accepted": True, "reloading": relevant}


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
