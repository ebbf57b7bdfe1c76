"""Polling feeds and sitemaps: discover, keep what was not submitted before, request it.

Used by the fetch service (every source of NEWSFLOW_SOURCES on its interval) and by
`newsflow submit --feed/--sitemap` (one source, once)."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from ..core.envelope import encode, make_event, utc_now
from ..core.ids import article_id, new_trace_id
from ..core.logs import get_logger
from ..core.settings import Settings
from .client import Fetcher
from .discovery import Discovered, discover
from .errors import FetchFailed
from .seen import SeenLog
from .sources import Source, due

REQUEST_SCHEMA = "news.fetch.request/1"
log = get_logger("newsflow.fetch.poller")

Send = Callable[[str, bytes, bytes], Awaitable[object]]


def request_event(url: str, source: str, producer: str) -> dict:
    return make_event(REQUEST_SCHEMA, article_id(url), new_trace_id(),
                      {"url": url, "source": source, "requested_at": utc_now()}, producer)


async def submit_new(found: Discovered, seen: SeenLog, send: Send, settings: Settings, producer: str,
                     source: str | None = None) -> list[tuple[str, str]]:
    """Request the URLs not submitted before; -> the (article id, url) pairs submitted."""
    await seen.refresh()  # what the other poller or the command line added meanwhile
    fresh = [(aid, url) for aid, url in ((article_id(u), u) for u in found.urls) if aid not in seen.ids]
    topic = settings.topic("news.fetch.requests")
    for aid, url in fresh:
        event = request_event(url, source or found.source, producer)
        await send(topic, aid.encode(), encode(event, REQUEST_SCHEMA))
    # Recorded only once the requests are acknowledged: a crash in between submits again, never loses.
    await seen.add(fresh, found.source)
    return fresh


class Poller:
    """Polls each source when due; a failing source is logged and tried at its next turn."""

    def __init__(self, sources: list[Source], fetcher: Fetcher, seen: SeenLog, send: Send, settings: Settings,
                 clock=time.monotonic):
        self.sources, self.fetcher, self.seen, self.send, self.settings, self.clock = sources, fetcher, seen, send, settings, clock
        self.next_poll: dict[Source, float] = {}
        self.validators: dict[Source, dict | None] = {}  # conditional GET of the feeds themselves

    async def poll(self, source: Source) -> list[tuple[str, str]]:
        found = await discover(self.fetcher, source.url, source.type, max_urls=self.settings.discovery_max_urls,
                               validators=self.validators.get(source))
        self.validators[source] = found.validators
        for error in found.errors:
            log.warning("source partly unreadable", source=source.label, error=error)
        if found.not_modified:
            log.info("source not modified", source=source.label)
            return []
        fresh = await submit_new(found, self.seen, self.send, self.settings, "fetch", source.name)
        log.info("source polled", source=source.label, found=len(found.urls), submitted=len(fresh))
        return fresh

    async def run_due(self) -> int:
        """Poll every source that is due; -> how many URLs were submitted."""
        submitted = 0
        for source in due(self.sources, self.next_poll, self.clock()):
            self.next_poll[source] = self.clock() + source.interval_s
            try:
                submitted += len(await self.poll(source))
            except (FetchFailed, ValueError) as exc:
                log.warning("source poll failed", source=source.label, error=type(exc).__name__, reason=str(exc))
        return submitted

    async def run_forever(self, active: Callable[[], bool] = lambda: True, tick_s: float = 1.0) -> None:
        """Poll on schedule while `active()` says this worker is the one to poll."""
        while True:
            if active():
                try:
                    await self.run_due()
                except Exception:  # noqa: BLE001 - a poller bug must not stop the fetch service
                    log.exception("poller round failed")
            await asyncio.sleep(tick_s)
