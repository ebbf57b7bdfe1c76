"""The fetch stage: a news.fetch.request event -> a news.raw event carrying the page, or
nothing when the page was fetched recently or has not changed (304).

`raw_event` builds the event from what came back and is pure; `make_handler` is the stage
function: URL normalisation, the per-URL state (recently-fetched window, conditional GET),
and the fetch itself (client.Fetcher)."""

from __future__ import annotations

import time
from typing import MutableMapping

from prometheus_client import Counter

from ..core.body import encode_body
from ..core.envelope import make_event
from ..core.ids import article_id, normalise_url
from ..core.logs import get_logger
from ..core.settings import Settings
from .client import FetchedPage, Fetcher
from .content import Kind, charset_hint
from .errors import FetchFailed, FetchRefused
from .refetch import REMOVED_STATUSES, removal_event
from .state import UrlState, after_fetch, expired, recently_fetched, unchanged_before, validators
from .url_state import MappingState

__all__ = ["FetchFailed", "FetchRefused", "FetchedPage", "raw_event", "make_handler", "stage_time_limit"]

SERVICE = "fetch"
INPUT_SCHEMA = "news.fetch.request/1"
OUTPUT_SCHEMA = "news.raw/1"
# Producers take messages up to 10 MiB (core/app.py); the envelope and headers need the rest.
MAX_BODY_FIELD_CHARS = 9 * 1024 * 1024

log = get_logger("newsflow.fetch")
# What became of each request that was not dead-lettered (those are counted by the shell).
RESULTS = Counter("newsflow_fetch_results_total", "Fetch requests by outcome", ["result"])


def raw_event(request: dict, page: FetchedPage, settings: Settings) -> dict:
    """Pure: the request event and the fetched page -> news.raw/1."""
    body, compression = encode_body(page.body, settings.compress_over_bytes)
    content_type = page.headers.get("content-type")
    payload = {
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "headers": page.headers,
        "content_type": content_type,
        "charset_hint": charset_hint(content_type, page.body),
        "fetched_at": page.fetched_at,
        "elapsed_ms": page.elapsed_ms,
        "source": request["payload"].get("source"),
        "body": body,
        "body_compression": compression,
        "body_size": len(page.body),
        "attempts": page.attempts,
    }
    if page.redirects:
        payload["redirects"] = [{"url": url, "status": status} for url, status in page.redirects]
    if page.timings:
        payload["timings"] = page.timings
    return make_event(OUTPUT_SCHEMA, article_id(page.final_url), request["trace_id"], payload, SERVICE)


def stage_time_limit(settings: Settings) -> float:
    """Long enough for every attempt and backoff of one URL, and a wait in its host's queue."""
    attempts = max(1, settings.fetch_max_attempts)
    per_hop = settings.fetch_timeout_s + settings.fetch_max_crawl_delay_s
    return attempts * (per_hop + settings.fetch_backoff_max_s) + 300.0


def make_handler(settings: Settings, state: MutableMapping[str, UrlState] | None = None,
                 fetcher: Fetcher | None = None, clock=time.time, removed=None):
    """The stage's handle function. `state` is the URL state: in the service the Elasticsearch
    store of url_state.py (anything with `aget`/`aput`), in tests a dict; state older than
    the retention reads as absent. The fetcher is made on first use, inside the running event
    loop. `removed(event)` is awaited with the news.removed event of a scheduled refetch that
    found the page gone (404/410), before the request counts as handled."""
    state = {} if state is None else state
    store = state if hasattr(state, "aget") else MappingState(state)
    in_flight: set[str] = set()

    async def fetch(request: dict) -> dict | None:
        nonlocal fetcher
        fetcher = fetcher or Fetcher(settings)
        url = normalise_url(request["payload"]["url"])  # tracking parameters off: one article, one URL
        key, trace_id = request["id"], request["trace_id"]
        previous = await store.aget(key)
        if expired(previous, clock(), settings.fetch_url_state_retention_s):
            previous = None
        refetch = request["payload"].get("refetch")
        if refetch and previous and (previous.get("removed") or int(previous.get("refetched") or 0) >= refetch):
            log.info("refetch skipped: made already", url=url, refetch=refetch)
            RESULTS.labels("refetch_done").inc()
            return None
        if unchanged_before(previous, trace_id):
            log.info("fetch skipped: this request was answered 304 before", url=url)
            RESULTS.labels("redelivered_unchanged").inc()
            return None
        if not refetch and recently_fetched(previous, trace_id, clock(), settings.fetch_refetch_after_s):
            log.info("fetch skipped: recently fetched", url=url, fetched_s_ago=round(clock() - previous["fetched_at"]))
            RESULTS.labels("recently_fetched").inc()
            return None
        if key in in_flight:
            log.info("fetch skipped: the same URL is being fetched", url=url)
            RESULTS.labels("in_flight").inc()
            return None
        in_flight.add(key)
        try:
            page = await fetcher.fetch(url, Kind.ARTICLE, validators(previous, trace_id))
        except FetchFailed as exc:
            if not (refetch and exc.status in REMOVED_STATUSES and removed is not None):
                raise
            await removed(removal_event(request, url, exc.status, str(exc), clock()))
            await store.aput(key, {**(previous or {}), "fetched_at": clock(), "trace_id": trace_id, "status": exc.status,
                                   "removed": True, "refetched": refetch})
            RESULTS.labels("removed").inc()
            log.info("refetch found the page gone: marked removed", url=url, status=exc.status)
            return None
        finally:
            in_flight.discard(key)
        await store.aput(key, after_fetch(previous, page.status, page.headers, trace_id, clock(), url=url, refetch=refetch))
        if page.not_modified:
            log.info("page not modified (304): seen, nothing emitted", url=url, refetch=refetch)
            RESULTS.labels("not_modified").inc()
            return None
        event = raw_event(request, page, settings)
        if len(event["payload"]["body"]) > MAX_BODY_FIELD_CHARS:
            raise FetchRefused(f"body of {len(page.body)} bytes does not fit a Kafka message even compressed")
        RESULTS.labels("fetched").inc()
        log.info("fetched", url=url, final_url=page.final_url, status=page.status, bytes=len(page.body),
                 attempts=page.attempts, redirects=len(page.redirects), ms=page.elapsed_ms)
        return event

    return fetch
