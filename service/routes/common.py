"""What every route module needs: the app's state, the body reader, the prediction headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from service.errors import ClientError, too_large
from service.metrics import Metrics
from service.predictor import Prediction
from service.selection_follower import SelectionFollower
from service.served_models import ServedModels
from service.server import BODY_TIMED_OUT
from service.settings import Settings
from service.webhook_deliveries import SeenDeliveries


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    models: ServedModels
    """The served models by name: `models.get(name)` is how a request finds its model."""
    selection: SelectionFollower | None = None
    """With `MODEL_FILTER`: what keeps `models` in step with the registry (webhooks wake it)."""
    webhook_deliveries: SeenDeliveries = field(default_factory=SeenDeliveries)


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.service
    return state


State = Annotated[AppState, Depends(app_state)]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (not after reading it all)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"the body is {declared} bytes; at most {limit} are accepted (MAX_REQUEST_BYTES)")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(f"the body is over {limit} bytes (MAX_REQUEST_BYTES)")
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody reads this answer; it names the cause in the request metrics (nginx's 499: client went away).
        if request.scope.get("state", {}).get(BODY_TIMED_OUT):
            raise ClientError("the request body stalled (BODY_TIMEOUT_S)", 408, "DEADLINE_EXCEEDED") from None
        raise ClientError("the client closed the connection during the body", 499, "CLIENT_CLOSED_REQUEST") from None
    return b"".join(chunks)


def prediction_headers(prediction: Prediction) -> dict[str, str]:
    headers = {"X-Model-Name": prediction.model.name, "X-Model-Version": prediction.model.version}
    if prediction.ignored_columns:
        headers["X-Ignored-Columns"] = ",".join(prediction.ignored_columns)[:1000]
    return headers
