"""Reindex: build the next physical index (`articles-vN+1`) from a topic, then swap the alias
atomically. Searches keep answering from the old index throughout; the old index is kept
until deleted on purpose.

From news.enriched the documents are rebuilt as they are; from news.raw every stage function
runs again (parse -> enrich), so a new parser or enricher reaches the whole history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from elasticsearch import AsyncElasticsearch
from tqdm import tqdm

from ..core.envelope import decode, utc_now
from ..core.es import ensure_index, es_client, physical_index
from ..core.kafka import end_offsets
from ..core.settings import Settings
from .runner import read_range

SOURCES = ("news.enriched", "news.raw")


@dataclass
class ReindexReport:
    source: str
    old_index: str
    new_index: str
    read: int = 0
    indexed: int = 0
    skipped: int = 0          # events no stage could turn into a document (they are on news.dlq already)
    caught_up: int = 0        # events that arrived while the new index was being built


async def next_index(es: AsyncElasticsearch, settings: Settings) -> str:
    pattern = re.compile(rf"^{re.escape(settings.index_alias)}-v(\d+)$")
    existing = await es.indices.get(index=f"{settings.index_alias}-v*", allow_no_indices=True, expand_wildcards="all")
    versions = [int(m.group(1)) for name in existing for m in [pattern.match(name)] if m]
    return physical_index(settings, max(versions, default=0) + 1)


def _to_document_event(source: str, raw: bytes) -> dict:
    """The enriched event an index document is built from, re-running the stages for news.raw."""
    if source == "news.enriched":
        return decode(raw, "news.enriched/1")
    from ..enrich.stage import enrich
    from ..parse.stage import parse

    return enrich(parse(decode(raw, "news.raw/1")))


async def _index_range(es, settings, source, index, start: dict[TopicPartition, int], stop: dict[TopicPartition, int],
                       bar, report) -> int:
    from ..index.documents import to_action
    from ..index.writer import write_batch

    bounds = {tp: (start.get(tp, 0), stop[tp]) for tp in stop if stop[tp] > start.get(tp, 0)}
    if not bounds:  # (an aiokafka consumer stopped with nothing assigned raises CancelledError)
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=16 * 1024 * 1024)
    await consumer.start()
    indexed = 0
    try:
        async for messages in read_range(consumer, bounds):
            actions = []
            for m in messages:
                report.read += 1
                try:
                    event = _to_document_event(source, m.value)
                except Exception:  # noqa: BLE001 - the live pipeline dead-lettered it already
                    report.skipped += 1
                    continue
                actions.append(to_action(event, index, utc_now()))
            bar.update(len(messages))
            if actions:
                result = await write_batch(es, actions)
                indexed += result.written + result.conflicts + result.unchanged
                report.skipped += len(result.rejected)
    finally:
        await consumer.stop()
    return indexed


async def reindex(settings: Settings, source: str = "news.enriched", show_progress: bool = True) -> ReindexReport:
    if source not in SOURCES:
        raise ValueError(f"--from-topic must be one of {', '.join(SOURCES)}")
    es = es_client(settings)
    try:
        old = await ensure_index(es, settings)
        new = await next_index(es, settings)
        await es.indices.create(index=new)  # settings and mappings come from the project's template
        report = ReindexReport(source=source, old_index=old, new_index=new)
        topic = settings.topic(source)
        snapshot = await end_offsets(settings, [topic])
        with tqdm(total=sum(snapshot.values()), desc=f"reindex {source} -> {new}", unit="event",
                  disable=not show_progress) as bar:
            report.indexed = await _index_range(es, settings, source, new, {}, snapshot, bar, report)
            await es.indices.refresh(index=new)
            # One atomic alias change: searches see either the old index or the complete new one.
            await es.indices.update_aliases(actions=[
                {"remove": {"index": old, "alias": settings.index_alias}},
                {"add": {"index": new, "alias": settings.index_alias, "is_write_index": True}},
            ])
            # Whatever the live index stage wrote to the old index meanwhile is replayed into
            # the new one; external versions make the overlap harmless.
            latest = await end_offsets(settings, [topic])
            report.caught_up = await _index_range(es, settings, source, new, snapshot, latest, bar, report)
        await es.indices.refresh(index=new)
        return report
    finally:
        await es.close()
