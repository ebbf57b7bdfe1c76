"""The index service: news.enriched -> bulk into Elasticsearch through the alias (or news.dlq).

Events are taken in batches (by count and time; the writer splits them into bulk requests by
count and bytes). A batch's events are acknowledged, and so their offsets committed, only
after Elasticsearch has acknowledged its documents and every rejected one is on news.dlq.
While Elasticsearch is unavailable the writer retries and this agent waits: consumption
pauses, nothing is acknowledged, nothing is dropped. The events are taken with `noack_take`
and acked by hand because faust's `take_events` acks a batch even when the agent is stopped
in the middle of writing it."""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Counter

from ..core.app import create_app, run_worker
from ..core.backoff import backoff_delay
from ..core.commits import mark_handled
from ..core.dlq import DLQ_SCHEMA, dead_letter_of
from ..core.envelope import decode, encode, utc_now
from ..core.es import ensure_index, es_client
from ..core.logs import get_logger
from ..core.metrics import DEAD_LETTERS, EVENTS_IN, EVENTS_OUT
from ..core.settings import get_settings
from ..core.stage import Outgoing, send_acknowledged
from .documents import INPUT_SCHEMA, to_action
from .writer import BatchResult, write_batch

SERVICE = "index"
settings = get_settings()
app = create_app(SERVICE, settings)
# On shutdown or rebalance, do not wait for the batch in hand to be acked: during an outage it
# never would be, and the worker would hang until killed. Unacked events are redelivered.
app.conf.stream_wait_empty = False
source = app.topic(settings.topic("news.enriched"), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
log = get_logger("newsflow.index")
DOCUMENTS = Counter("newsflow_index_documents_total", "Index stage outcomes per document", ["outcome"])
WRITE_RETRIES = Counter("newsflow_index_write_retries_total", "Bulk attempts repeated because Elasticsearch was unavailable or busy")
_es = None


async def elasticsearch():
    """The client, made on first use once the index layout is in place (waiting for
    Elasticsearch as long as it takes: events stay unacknowledged meanwhile)."""
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


async def _dead_letter(message, error, reason: str, event: dict | None = None) -> None:
    letter = dead_letter_of(message, stage=SERVICE, error=error, reason=reason, event=event)
    await send_acknowledged(app, Outgoing(settings.topic("news.dlq"), letter["id"].encode(), encode(letter, DLQ_SCHEMA), DLQ_SCHEMA))
    DEAD_LETTERS.labels(SERVICE, letter["payload"]["error"]).inc()
    log.warning("event dead-lettered", article_id=letter["id"], trace_id=letter["trace_id"], reason=reason[:300])


async def index_batch(events) -> BatchResult | None:
    """Decode, write and dead-letter one batch; returns once every event is settled."""
    EVENTS_IN.labels(SERVICE).inc(len(events))
    actions, origins = [], []
    indexed_at = utc_now()
    for event in events:
        decoded = None
        try:
            decoded = decode(event.message.value, INPUT_SCHEMA)
            actions.append(to_action(decoded, settings.index_alias, indexed_at))
        except Exception as exc:  # noqa: BLE001 - invalid or unindexable input is that input's dead letter
            await _dead_letter(event.message, exc, str(exc), decoded)
            continue
        origins.append((event.message, decoded))
    if not actions:
        return None
    result = await write_batch(await elasticsearch(), actions, chunk_size=settings.index_batch_size,
                               max_chunk_bytes=settings.index_batch_bytes, max_backoff_s=settings.index_max_backoff_s,
                               require_alias=True)
    for position, reason in result.rejected.items():
        message, decoded = origins[position]
        await _dead_letter(message, "RejectedByElasticsearch", reason, decoded)
    EVENTS_OUT.labels(SERVICE).inc(result.written)
    for outcome in ("written", "conflicts", "unchanged"):
        DOCUMENTS.labels(outcome).inc(getattr(result, outcome))
    DOCUMENTS.labels("rejected").inc(len(result.rejected))
    WRITE_RETRIES.inc(result.retries)
    for position, (_, decoded) in enumerate(origins):
        if position not in result.rejected:
            with structlog.contextvars.bound_contextvars(article_id=decoded["id"], trace_id=decoded["trace_id"]):
                log.info("article indexed")
    log.info("batch written", written=result.written, conflicts=result.conflicts, unchanged=result.unchanged,
             rejected=len(result.rejected), retries=result.retries)
    return result


@app.agent(source, name="newsflow.index")
async def index_articles(stream):
    async for taken in stream.noack_take(settings.index_batch_size, within=settings.index_batch_seconds):
        events = [event for event in taken if await app.redelivery.admit(event.message)]
        await index_batch(events)
        # Only now may faust commit these offsets (the events not admitted come again).
        for event in events:
            mark_handled(event.message)
        for event in taken:
            await stream.ack(event)


def main() -> None:
    run_worker(app, settings)


# The second agent, news.removed -> documents marked removed (lifecycle, issue 15).
from . import removals  # noqa: E402,F401
