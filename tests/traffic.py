"""Bounded concurrent traffic against a local service, recording every status and served version."""

from __future__ import annotations

import threading
import time
from collections import Counter
from types import TracebackType

import httpx


class Traffic:
    """`clients` threads posting `body` to `url` until stopped, or until `max_seconds` at the latest."""

    def __init__(self, url: str, body: bytes | list[bytes], clients: int = 8, max_seconds: float = 180.0) -> None:
        self.url = url
        self.bodies = body if isinstance(body, list) else [body]
        self.clients = clients
        self.max_seconds = max_seconds
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self.last_version: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Traffic:
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"traffic-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def _client(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        headers = {"Content-Type": "application/json"}
        sent = 0
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                body = self.bodies[sent % len(self.bodies)]
                sent += 1
                try:
                    response = client.post(self.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.failures.append(f"{type(exc).__name__}: {exc}")
                        self.statuses[0] += 1
                    continue
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        version = response.headers.get("x-model-version", "?")
                        self.versions[version] += 1
                        self.last_version = version
                    else:
                        self.failures.append(f"{response.status_code}: {response.text[:200]}")
