"""One group's call in the model thread, as the event loop follows it (`Batcher._in_thread`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from service.batch_jobs import Job, Outcome, settle

log = logging.getLogger("service.batching")

RECHECK_S = 0.1
"""How often a call that outlived its timeout is looked at again (stuck at the cap, or about to return)."""


class ThreadCall:
    def __init__(self, loop: asyncio.AbstractEventLoop, jobs: list[Job]) -> None:
        self.loop = loop
        self.jobs = jobs
        self.answered = False
        """Set by the model thread as it hands out the results: the call is returning, not stuck."""
        self.waiter: asyncio.Future[None] = loop.create_future()
        self.timer: asyncio.TimerHandle | None = None

    def answer(self, outcomes: list[Outcome]) -> None:
        """In the model thread."""
        self.answered = True
        self.loop.call_soon_threadsafe(settle, outcomes)

    def returned(self, running: asyncio.Future[Any]) -> None:
        if not running.cancelled() and (error := running.exception()) is not None:
            log.error("model thread call failed: %s: %s", type(error).__name__, error, exc_info=error)
        if not self.waiter.done():
            self.waiter.set_result(None)
