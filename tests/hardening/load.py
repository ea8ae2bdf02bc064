"""Bounded concurrent traffic that remembers every request by id: what was answered, refused or cut off."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import httpx

from tests.traffic import ClientThreads


@dataclass
class Outcomes:
    """Request ids by fate. `cut_off` got neither a refusal nor a response (the connection dropped)."""

    answered: dict[str, int] = field(default_factory=dict)
    refused: dict[str, float] = field(default_factory=dict)
    cut_off: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> set[str]:
        return {rid for rid, status in self.answered.items() if status == 200}

    @property
    def not_ok(self) -> dict[str, int]:
        return {rid: status for rid, status in self.answered.items() if status != 200}


class TaggedTraffic(ClientThreads):
    """`clients` threads posting `body` with a unique X-Request-ID each, until stopped or `max_seconds`."""

    def __init__(self, url: str, body: bytes, clients: int = 8, max_seconds: float = 120.0) -> None:
        super().__init__(clients)
        self.url = url
        self.body = body
        self.max_seconds = max_seconds
        self.outcomes = Outcomes()
        self._ids = itertools.count()

    @property
    def answered(self) -> int:
        return len(self.outcomes.answered)

    def _client(self, index: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    request_id = f"c{index}-{next(self._ids)}"
                headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
                try:
                    response = client.post(self.url, content=self.body, headers=headers)
                except httpx.ConnectError:
                    with self._lock:
                        self.outcomes.refused[request_id] = time.monotonic()
                    self._stop.wait(0.05)  # the server is gone: do not spin
                    continue
                except httpx.TransportError as exc:
                    with self._lock:
                        self.outcomes.cut_off[request_id] = f"{type(exc).__name__}: {exc}"
                    continue
                with self._lock:
                    self.outcomes.answered[request_id] = response.status_code
