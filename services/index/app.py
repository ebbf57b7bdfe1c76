"""The index service: news.enriched -> bulk into Elasticsearch through the alias (or news.dlq).

A batch stage of the shared shell: events are taken in batches (by count and time; the writer
splits them into bulk requests by count and bytes) and written through the one index write
path (sink.py). A batch is finished, and so its offsets committable, only after Elasticsearch
has acknowledged its documents and every rejected one is on news.dlq. While Elasticsearch is
unavailable the writer retries and the agent waits: consumption pauses, nothing is finished,
nothing is dropped (the outage policy of core/outage.py)."""

from __future__ import annotations

import asyncio
import time

import structlog
from prometheus_client import Counter, Histogram

from ..core.app import create_app, run_worker
from ..core.backoff import backoff_delay
from ..core.dlq import DLQ_SCHEMA, dead_letter_of
from ..core.envelope import encode
from ..core.es import es_client
from ..core.logs import get_logger
from ..core.metrics import EVENTS_OUT
from ..core.settings import get_settings
from ..core.stage import Outgoing, StageSpec, attach_stage, ids_of
from . import INPUT_TOPICS, REMOVALS_AGENT, WEB_PORT_OFFSET
from .documents import INPUT_SCHEMA, REMOVED_SCHEMA
from .layout import ensure_index
from .refresh import Refresher
from .removals import write_removals
from .sink import Written, write_events

SERVICE = "index"
settings = get_settings()
app = create_app(SERVICE, WEB_PORT_OFFSET, settings)
# On shutdown or rebalance, do not wait for the batch in hand: during an outage it never
# would finish, and the worker would hang until killed. Unfinished events are read again.
app.conf.stream_wait_empty = False
log = get_logger("newsflow.index")
DOCUMENTS = Counter("newsflow_index_documents_total", "Index stage outcomes per document", ["outcome"])
# Per batch, apart from the per-input metrics of the shell.
BATCH_SECONDS = Histogram("newsflow_index_batch_seconds", "Time to write one batch, dead letters included",
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
WRITE_RETRIES = Counter("newsflow_index_write_retries_total", "Bulk attempts repeated because Elasticsearch was unavailable or busy")
_es = None
_refresher: Refresher | None = None


def refresh_soon(es, freshest_fetch: float | None = None) -> None:
    """Ask for a refresh of the alias after a write (refresh.py), sooner the fresher its newest
    document; off with NEWSFLOW_INDEX_REFRESH_AFTER_WRITE=0."""
    global _refresher
    if not settings.index_refresh_after_write:
        return
    if _refresher is None:
        _refresher = Refresher(lambda: es.indices.refresh(index=settings.index_alias), settings.index_refresh_min_gap_s,
                               max_gap_s=settings.index_refresh_max_gap_s)
    _refresher.request(None if freshest_fetch is None else max(0.0, time.time() - freshest_fetch))


async def elasticsearch():
    """The client, made on first use once the index layout is in place (waiting for
    Elasticsearch as long as it takes: events stay unfinished meanwhile)."""
    global _es
    if _es is None:
        # The writer retries with backoff itself; transport-level retries would only multiply the noise.
        client = es_client(settings).options(max_retries=0)
        attempt = 0
        while True:
            try:
                index = await ensure_index(client, settings)
                break
            except Exception as exc:  # noqa: BLE001 - unreachable or refusing: wait and try again
                attempt += 1
                delay = backoff_delay(attempt, settings.index_max_backoff_s)
                log.warning("index layout not ready, will retry", error=type(exc).__name__, reason=str(exc)[:300], delay_s=round(delay, 2))
                await asyncio.sleep(delay)
        log.info("index ready", alias=settings.index_alias, index=index)
        _es = client
    return _es


def _dead_letters(messages: list, written: Written, stage: str) -> list[Outgoing | None]:
    """Per message: its dead letter, or None once its document is safe."""
    outs: list[Outgoing | None] = [None] * len(messages)
    for failure in written.failures:
        letter = dead_letter_of(messages[failure.position], stage=stage, error=failure.error, reason=failure.reason,
                                event=failure.event)
        outs[failure.position] = Outgoing(settings.topic("news.dlq"), letter["id"].encode(), encode(letter, DLQ_SCHEMA), DLQ_SCHEMA)
        log.warning("event dead-lettered", article_id=letter["id"], trace_id=letter["trace_id"], reason=failure.reason[:300])
    return outs


async def index_batch(messages: list) -> list[Outgoing | None]:
    """Write one batch of articles through the one index write path."""
    started = time.perf_counter()
    es = await elasticsearch()
    written = await write_events(es, [m.value for m in messages], settings)
    outs = _dead_letters(messages, written, SERVICE)
    result = written.result
    if result.written:
        refresh_soon(es, written.freshest_fetch)
    EVENTS_OUT.labels(SERVICE).inc(result.written)
    for outcome in ("written", "conflicts", "unchanged"):
        DOCUMENTS.labels(outcome).inc(getattr(result, outcome))
    DOCUMENTS.labels("rejected").inc(len(result.rejected))
    WRITE_RETRIES.inc(result.retries)
    failed = {f.position for f in written.failures}
    for position, message in enumerate(messages):
        if position not in failed:
            article_id, trace_id = ids_of(message.value)
            with structlog.contextvars.bound_contextvars(article_id=article_id, trace_id=trace_id):
                log.info("article indexed")
    log.info("batch written", events=len(messages), written=result.written, conflicts=result.conflicts,
             unchanged=result.unchanged, rejected=len(result.rejected), invalid=len(written.failures) - len(result.rejected),
             retries=result.retries)
    BATCH_SECONDS.observe(time.perf_counter() - started)
    return outs


async def removal_batch(messages: list) -> list[Outgoing | None]:
    """Mark one batch of takedowns' documents removed (lifecycle: a 404 or 410 on refetch)."""
    es = await elasticsearch()
    written = await write_removals(es, [m.value for m in messages], settings)
    if written.result.written:
        refresh_soon(es)
    failed = {f.position for f in written.failures}
    for position, message in enumerate(messages):
        if position not in failed:
            article_id, trace_id = ids_of(message.value)
            log.info("article marked removed", article_id=article_id, trace_id=trace_id)
    log.info("removals written", written=written.result.written, newer_fetch_kept=written.result.conflicts,
             rejected=len(written.result.rejected))
    return _dead_letters(messages, written, REMOVALS_AGENT)


attach_stage(app, StageSpec(
    name=SERVICE, input_topic=INPUT_TOPICS[0], input_schema=INPUT_SCHEMA, handle_batch=index_batch,
    batch_size=settings.index_batch_size, batch_seconds=settings.index_batch_seconds,
    concurrency=max(1, settings.index_concurrency),
), settings)
# The second agent, through the same shell: news.removed -> documents marked removed.
attach_stage(app, StageSpec(
    name=REMOVALS_AGENT, input_topic=INPUT_TOPICS[1], input_schema=REMOVED_SCHEMA, handle_batch=removal_batch,
    batch_size=settings.index_batch_size, batch_seconds=settings.index_batch_seconds,
), settings)


def main() -> None:
    run_worker(app, settings)
