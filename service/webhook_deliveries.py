"""Which webhook deliveries were already acted on, so a replayed delivery is not acted on twice.

A signed delivery stays valid for MAX_WEBHOOK_AGE_S around its timestamp; within that window anyone who
captured it could send it again. Its `X-MLflow-Delivery-Id` is remembered until the window has passed
(a later replay is refused as stale anyway), and at most `capacity` ids are kept, oldest dropped first:
memory is bounded whatever the traffic. The memory is the worker process's own (per replica with one
worker): a replay that reaches another replica or worker is acted on there once too, which only resolves
the alias again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_WEBHOOK_AGE_S = 300
"""A delivery's timestamp may be this far from now, either way."""
DEFAULT_CAPACITY = 10_000


class SeenDeliveries:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, window_s: float = MAX_WEBHOOK_AGE_S) -> None:
        self.capacity = capacity
        self.window_s = window_s
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, delivery_id: str, timestamp: float) -> bool:
        """Remember `delivery_id`; False when it was already seen (a replay, or MLflow retrying it)."""
        now = time.time()
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) < now:
                self._expiry.popitem(last=False)
            if delivery_id in self._expiry:
                return False
            # After its timestamp's window the signature check refuses the delivery as stale: forget it then.
            # Dropped from the front only, so an expired id behind a live one waits a little: harmless.
            self._expiry[delivery_id] = timestamp + self.window_s
            while len(self._expiry) > self.capacity:
                self._expiry.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._expiry)
