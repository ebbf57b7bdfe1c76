"""Documents searchable soon after they are written: after each batch the index stage asks for
a refresh of the alias, run in the background (the batch's offsets never wait for it) and at
most once per NEWSFLOW_INDEX_REFRESH_MIN_GAP, so a backlog's back-to-back batches share
refreshes. Without it a document waits for Elasticsearch's periodic refresh (refresh_interval,
1 s), on average half of it: the largest part of fetch-to-searchable at a steady pace.

A refresh that fails is only logged: the periodic refresh makes the documents searchable
anyway, and the documents are safe (acknowledged) before any refresh is asked for."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from ..core.logs import get_logger

log = get_logger("newsflow.index.refresh")


def refresh_delay(now: float, last_started: float | None, min_gap_s: float) -> float:
    """Seconds to wait before the next refresh may start."""
    if last_started is None:
        return 0.0
    return max(0.0, last_started + min_gap_s - now)


class Refresher:
    """One background loop: `request()` after a write; the loop refreshes once the gap since the
    last refresh has passed, and requests made meanwhile are served by that one refresh."""

    def __init__(self, refresh: Callable[[], Awaitable[object]], min_gap_s: float, clock=time.monotonic):
        self.refresh, self.min_gap_s, self.clock = refresh, min_gap_s, clock
        self.last_started: float | None = None
        self.refreshes = 0
        self._wanted = asyncio.Event()
        self._task: asyncio.Task | None = None

    def request(self) -> None:
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            await asyncio.sleep(refresh_delay(self.clock(), self.last_started, self.min_gap_s))
            self._wanted.clear()  # writes acknowledged before this point are covered by this refresh
            self.last_started = self.clock()
            try:
                await self.refresh()
                self.refreshes += 1
            except Exception as exc:  # noqa: BLE001 - the periodic refresh still comes
                log.warning("refresh after write failed", error=type(exc).__name__, reason=str(exc)[:300])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
