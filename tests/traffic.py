"""Bounded concurrent traffic against a local service, recording every status and served version."""

from __future__ import annotations

import threading
import time
from collections import Counter
from types import TracebackType
from typing import Self

import httpx


class ClientThreads:
    """`clients` threads each running `self._client(index)` from `__enter__` until `stop()` (or `__exit__`)."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Self:
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(i,), name=f"client-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _client(self, index: int) -> None:
        raise NotImplementedError


class Traffic(ClientThreads):
    """`clients` threads posting `body` to `url` until stopped, or until `max_seconds` at the latest."""

    def __init__(self, url: str, body: bytes | list[bytes], clients: int = 8, max_seconds: float = 180.0) -> None:
        super().__init__(clients)
        self.url = url
        self.bodies = body if isinstance(body, list) else [body]
        self.max_seconds = max_seconds
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self.last_version: str | None = None

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def _client(self, index: int) -> None:
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
