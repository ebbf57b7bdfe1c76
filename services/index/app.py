"""The index service: news.enriched -> bulk into Elasticsearch through the alias (or news.dlq).

Events are taken in batches (by count and time); a batch's offsets are acknowledged only
after Elasticsearch has acknowledged its documents and every rejected one is on news.dlq."""

from __future__ import annotations

import structlog

from ..core.app import create_app, run_worker
from ..core.dlq import DLQ_SCHEMA, dead_letter_event
from ..core.envelope import InvalidEvent, decode, encode, utc_now
from ..core.es import ensure_index, es_client
from ..core.logs import get_logger
from ..core.metrics import DEAD_LETTERS, EVENTS_IN, EVENTS_OUT
from ..core.settings import get_settings
from ..core.stage import Outgoing, send_acknowledged
from .documents import INPUT_SCHEMA, to_action
from .writer import write_batch

SERVICE = "index"
settings = get_settings()
app = create_app(SERVICE, settings)
source = app.topic(settings.topic("news.enriched"), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
log = get_logger("newsflow.index")
_es = None


async def elasticsearch():
    """The client, made on first use once the index layout is in place."""
    global _es
    if _es is None:
        client = es_client(settings)
        index = await ensure_index(client, settings)
        log.info("index ready", alias=settings.index_alias, index=index)
        _es = client
    return _es


async def _dead_letter(message, error, reason: str, article_id=None, trace_id=None) -> None:
    letter = dead_letter_event(stage=SERVICE, error=error, reason=reason, topic=message.topic, original=message.value,
                               partition=message.partition, offset=message.offset, article_id=article_id, trace_id=trace_id)
    await send_acknowledged(app, Outgoing(settings.topic("news.dlq"), letter["id"].encode(), encode(letter, DLQ_SCHEMA), DLQ_SCHEMA))
    DEAD_LETTERS.labels(SERVICE, letter["payload"]["error"]).inc()
    log.warning("event dead-lettered", article_id=letter["id"], trace_id=letter["trace_id"], reason=reason[:300])


@app.agent(source, name="newsflow.index")
async def index_articles(stream):
    async for batch in stream.take_events(settings.index_batch_size, within=settings.index_batch_seconds):
        EVENTS_IN.labels(SERVICE).inc(len(batch))
        actions, origins = [], []
        indexed_at = utc_now()
        for event in batch:
            try:
                decoded = decode(event.message.value, INPUT_SCHEMA)
            except InvalidEvent as exc:
                await _dead_letter(event.message, exc, str(exc))
                continue
            actions.append(to_action(decoded, settings.index_alias, indexed_at))
            origins.append((event.message, decoded))
        if not actions:
            continue
        result = await write_batch(await elasticsearch(), actions)
        for position, reason in result.rejected.items():
            message, decoded = origins[position]
            await _dead_letter(message, "RejectedByElasticsearch", reason, decoded["id"], decoded["trace_id"])
        EVENTS_OUT.labels(SERVICE).inc(result.written)
        for position, (_, decoded) in enumerate(origins):
            if position in result.rejected:
                continue
            with structlog.contextvars.bound_contextvars(article_id=decoded["id"], trace_id=decoded["trace_id"]):
                log.info("article indexed")
        log.info("batch written", written=result.written, conflicts=result.conflicts, rejected=len(result.rejected))
        # Leaving the iteration acks the whole batch; faust commits the offsets.


def main() -> None:
    run_worker(app, settings)
