"""What every route module needs: the app's state, the body reader, the prediction headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Response

from service.errors import ClientError, too_large
from service.metrics import Metrics
from service.middleware import header
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
    """The body, refused with 413 as soon as it passes `limit` bytes (not after reading it all).

    Read from the ASGI messages themselves, as `Request.stream()` reads them, without its generator.
    """
    declared = header(request.scope, b"content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"the body is {declared} bytes; at most {limit} are accepted (MAX_REQUEST_BYTES)")
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":
            if message["type"] == "http.disconnect":
                raise _disconnected(request)
            continue
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(f"the body is over {limit} bytes (MAX_REQUEST_BYTES)")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _disconnected(request: Request) -> ClientError:
    """Nobody reads this answer; it names the cause in the request metrics (nginx's 499: client went away)."""
    if request.scope.get("state", {}).get(BODY_TIMED_OUT):
        return ClientError("the request body stalled (BODY_TIMEOUT_S)", 408, "DEADLINE_EXCEEDED")
    return ClientError("the client closed the connection during the body", 499, "CLIENT_CLOSED_REQUEST")


class PredictionResponse(Response):
    """A prediction's answer, its model headers first (`X-Model-Name`, `X-Model-Version`, `X-Ignored-Columns`),
    then `extra`: the raw headers built here as Starlette would build them (same names, order and encoding)
    without its per-response dict and key scan."""

    def __init__(
        self,
        body: bytes,
        prediction: Prediction,
        media_type: str = "application/json",
        extra: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.status_code = 200
        self.background = None
        self.media_type = media_type
        self.body = body
        name, version = prediction.model.name.encode("latin-1"), prediction.model.version.encode("latin-1")
        headers = [(b"x-model-name", name), (b"x-model-version", version)]
        if prediction.ignored_columns:
            headers.append((b"x-ignored-columns", ",".join(prediction.ignored_columns)[:1000].encode("latin-1")))
        headers.extend(extra)
        headers.append((b"content-length", b"%d" % len(body)))
        headers.append((b"content-type", media_type.encode("latin-1")))
        self.raw_headers = headers
