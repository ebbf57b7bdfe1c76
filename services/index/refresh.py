"""Documents searchable soon after they are written: after each batch the index stage asks for
a refresh of the alias, run in the background (the batch's offsets never wait for it) and at
most once per NEWSFLOW_INDEX_REFRESH_MIN_GAP, so a backlog's back-to-back batches share
refreshes. Without it a document waits for Elasticsearch's periodic refresh (refresh_interval,
1 s), on average half of it: the largest part of fetch-to-searchable at a steady pace.

The gap stretches with the age of the freshest document written (time since its fetch): to
AGE_SHARE of it, up to NEWSFLOW_INDEX_REFRESH_MAX_GAP. A document that waited a minute in a
backlog (or a replay of last month) gains nothing from a refresh within 0.5 s, and each refresh
makes a segment that Elasticsearch writes and later merges: under a backlog the refreshes and
their merges were most of its CPU (README, "Where the services' time goes"). At a steady pace
documents are younger than twice the floor, and the floor holds.

A refresh that fails is only logged: the periodic refresh makes the documents searchable
anyway, and the documents are safe (acknowledged) before any refresh is asked for."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from ..core.logs import get_logger

log = get_logger("newsflow.index.refresh")
# A refresh may add at most this share of a document's age to its time to searchable.
AGE_SHARE = 0.25


def refresh_gap(age_s: float | None, min_gap_s: float, max_gap_s: float) -> float:
    """The gap after the last refresh for a write whose freshest document is `age_s` old."""
    if age_s is None:
        return min_gap_s
    return max(min_gap_s, min(max_gap_s, age_s * AGE_SHARE))


def refresh_delay(now: float, last_started: float | None, min_gap_s: float) -> float:
    """Seconds to wait before the next refresh may start."""
    if last_started is None:
        return 0.0
    return max(0.0, last_started + min_gap_s - now)


class Refresher:
    """One background loop: `request()` after a write; the loop refreshes once the gap since the
    last refresh has passed, and requests made meanwhile are served by that one refresh."""

    def __init__(self, refresh: Callable[[], Awaitable[object]], min_gap_s: float, clock=time.monotonic,
                 max_gap_s: float | None = None):
        self.refresh, self.min_gap_s, self.clock = refresh, min_gap_s, clock
        self.max_gap_s = min_gap_s if max_gap_s is None else max(min_gap_s, max_gap_s)
        self.last_started: float | None = None
        self.refreshes = 0
        self._gap: float | None = None  # the smallest gap asked for since the last refresh
        self._wanted = asyncio.Event()
        self._sooner = asyncio.Event()  # a request wants a smaller gap than the loop waits for
        self._task: asyncio.Task | None = None

    def request(self, age_s: float | None = None) -> None:
        """After a write whose freshest document was fetched `age_s` ago (None: unknown, the floor)."""
        gap = refresh_gap(age_s, self.min_gap_s, self.max_gap_s)
        if self._gap is None or gap < self._gap:
            self._gap = gap
            self._sooner.set()
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            while (delay := refresh_delay(self.clock(), self.last_started, self._gap or self.min_gap_s)) > 0:
                self._sooner.clear()
                try:  # woken early when a fresher document shortens the gap
                    await asyncio.wait_for(self._sooner.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            self._wanted.clear()  # writes acknowledged before this point are covered by this refresh
            self._gap = None
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
