"""The index service's second agent: news.removed -> mark the articles' documents removed.

Takedowns come from the fetch stage's scheduled refetches (a 404 or 410). As for articles, a
batch's events are acknowledged, and so their offsets committed, only once Elasticsearch has
the documents or the event is on news.dlq."""

from __future__ import annotations

from ..core.commits import mark_handled
from ..core.envelope import decode
from .app import _dead_letter, app, elasticsearch, log, settings
from .documents import REMOVED_SCHEMA
from .writer import remove_batch

removals = app.topic(settings.topic("news.removed"), key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw")


async def removal_batch(events) -> None:
    decoded, messages = [], []
    for event in events:
        try:
            decoded.append(decode(event.message.value, REMOVED_SCHEMA))
            messages.append(event.message)
        except Exception as exc:  # noqa: BLE001 - an unreadable takedown is its own dead letter
            await _dead_letter(event.message, exc, str(exc))
    if not decoded:
        return
    result = await remove_batch(await elasticsearch(), decoded, settings.index_alias,
                                max_backoff_s=settings.index_max_backoff_s, require_alias=True)
    for position, reason in result.rejected.items():
        await _dead_letter(messages[position], "RejectedByElasticsearch", reason, decoded[position])
    for event in decoded:
        log.info("article marked removed", article_id=event["id"], trace_id=event["trace_id"],
                 status=event["payload"]["status"])
    log.info("removals written", written=result.written, newer_fetch_kept=result.conflicts,
             rejected=len(result.rejected))


@app.agent(removals, name="newsflow.index.removals")
async def mark_removed(stream):
    async for taken in stream.noack_take(settings.index_batch_size, within=settings.index_batch_seconds):
        events = [event for event in taken if await app.redelivery.admit(event.message)]
        await removal_batch(events)
        for event in events:
            mark_handled(event.message)
        for event in taken:
            await stream.ack(event)
