"""Reindex: build the next physical index (`articles-vN+1`) from a topic, then swap the alias
atomically. Searches keep answering from the old index throughout; the old index is kept
until deleted on purpose.

From news.enriched the documents are rebuilt as they are; from news.raw every stage function
runs again (parse -> enrich -> clusters settled as the enrich service settles them), so a new
parser or enricher reaches the whole history. Documents go through the index stage's one
write path (index/sink.py), into the new index through a temporary alias (`<alias>-reindex`)
until the swap, so a missing index stalls the writes instead of auto-creating one.

An alias partitioned by month (`<alias>-vN-YYYY.MM`, services/index/indices.py) is rebuilt as
generation N+1: the same writer files each article into `<alias>-vN+1-<month>` beside the alias,
in the month it has in generation N (a new one by the usual rule), takedowns found in whichever
month holds them; then one `update_aliases` request moves the alias from every month of the old
generation to every month of the new one, and the catch-up goes through the alias as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, TopicPartition
from elasticsearch import AsyncElasticsearch
from tqdm import tqdm

from ..core.envelope import decode
from ..core.es import es_client
from ..core.kafka import end_offsets
from ..core.outage import while_unavailable
from ..core.security import kafka_client_options
from ..core.settings import Settings
from ..index.indices import generation_swap_actions, index_name, next_generation, parse_index
from ..index.layout import ensure_index, physical_index
from ..index.placement import month_layout
from ..index.removals import write_removals
from ..index.sink import write_events
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
    old_indices: list[str] = field(default_factory=list)   # (months) every index the alias served before
    new_indices: list[str] = field(default_factory=list)   # (months) every month of the new generation
    # From news.raw: the near-duplicate clusters, settled as the enrich service does (band or
    # article id -> cluster id, within the look-back window), across the history and the catch-up.
    clusters: object = field(default=None, repr=False)


async def next_index(es: AsyncElasticsearch, settings: Settings) -> str:
    pattern = re.compile(rf"^{re.escape(settings.index_alias)}-v(\d+)$")
    existing = await es.indices.get(index=f"{settings.index_alias}-v*", allow_no_indices=True, expand_wildcards="all")
    versions = [int(m.group(1)) for name in existing for m in [pattern.match(name)] if m]
    return physical_index(settings, max(versions, default=0) + 1)


def _to_document_event(source: str, raw: bytes, clusters) -> dict:
    """The enriched event an index document is built from, re-running the stages for news.raw."""
    if source == "news.enriched":
        return decode(raw, "news.enriched/1")
    from ..enrich.stage import enrich
    from ..parse.stage import parse

    return clusters.settle(enrich(parse(decode(raw, "news.raw/1"))))


async def _document_event(source: str, raw: bytes, clusters) -> dict | Exception:
    """As above; while a server the stages need is down, wait for it (core/outage.py)."""
    async def call() -> dict:
        return _to_document_event(source, raw, clusters)

    try:
        return await while_unavailable(call)
    except Exception as exc:  # noqa: BLE001 - the live pipeline dead-lettered it already
        return exc


def _given(event: dict | Exception) -> dict:
    if isinstance(event, Exception):
        raise event
    return event


async def _index_range(es, settings, topic: str, start: dict[TopicPartition, int], stop: dict[TopicPartition, int],
                       bar, report, write) -> int:
    """Write the messages of `topic` between the offsets with `write(messages) -> Written`;
    returns the documents now in place."""
    bounds = {tp: (start.get(tp, 0), stop[tp]) for tp in stop if stop[tp] > start.get(tp, 0)}
    if not bounds:  # (an aiokafka consumer stopped with nothing assigned raises CancelledError)
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=16 * 1024 * 1024, **kafka_client_options(settings))
    await consumer.start()
    done = 0
    try:
        async for messages in read_range(consumer, bounds):
            report.read += len(messages)
            written = await write(messages)
            done += written.result.written + written.result.conflicts + written.result.unchanged
            report.skipped += len(written.failures)
            bar.update(len(messages))
    finally:
        await consumer.stop()
    return done


def _writers(es, settings, source: str, alias: str, report, generation: int | None = None):
    """(topic, write) pairs: the source's documents, then the takedowns of news.removed, so a
    rebuilt index hides what the live one hides. `generation`: into that generation's month
    indices, beside the alias."""
    async def documents(messages):
        events = [await _document_event(source, m.value, report.clusters) for m in messages]
        return await write_events(es, events, settings, alias=alias, to_event=_given, generation=generation)

    async def removals(messages):
        return await write_removals(es, [m.value for m in messages], settings, alias=alias, generation=generation)

    return ((settings.topic(source), documents), (settings.topic("news.removed"), removals))


async def reindex(settings: Settings, source: str = "news.enriched", show_progress: bool = True) -> ReindexReport:
    if source not in SOURCES:
        raise ValueError(f"--from-topic must be one of {', '.join(SOURCES)}")
    es = es_client(settings)
    try:
        old = await ensure_index(es, settings)
        if await month_layout(es, settings.index_alias) is not None:
            return await _reindex_months(es, settings, source, show_progress)
        new = await next_index(es, settings)
        building = f"{settings.index_alias}-reindex"
        # (left on an older index by a reindex that was stopped half-way)
        await es.options(ignore_status=404).indices.delete_alias(index=f"{settings.index_alias}-v*", name=building)
        # settings and mappings come from the project's template; written through its own alias
        await es.indices.create(index=new, aliases={building: {"is_write_index": True}})
        from ..enrich.clusters import MemoryClusters

        report = ReindexReport(source=source, old_index=old, new_index=new,
                               clusters=MemoryClusters(settings.near_duplicate_window_s))
        topics = [settings.topic(source), settings.topic("news.removed")]
        snapshot = await end_offsets(settings, topics)
        with tqdm(total=sum(snapshot.values()), desc=f"reindex {source} -> {new}", unit="event",
                  disable=not show_progress) as bar:
            for topic, write in _writers(es, settings, source, building, report):
                stop = {tp: end for tp, end in snapshot.items() if tp.topic == topic}
                report.indexed += await _index_range(es, settings, topic, {}, stop, bar, report, write)
            await es.indices.refresh(index=new)
            # One atomic alias change: searches see either the old index or the complete new one.
            await es.indices.update_aliases(actions=[
                {"remove": {"index": old, "alias": settings.index_alias}},
                {"add": {"index": new, "alias": settings.index_alias, "is_write_index": True}},
                {"remove": {"index": new, "alias": building}},
            ])
            # Whatever the live index stage wrote to the old index meanwhile is replayed into
            # the new one; external versions make the overlap harmless.
            latest = await end_offsets(settings, topics)
            for topic, write in _writers(es, settings, source, settings.index_alias, report):
                stop = {tp: end for tp, end in latest.items() if tp.topic == topic}
                report.caught_up += await _index_range(es, settings, topic, snapshot, stop, bar, report, write)
        await es.indices.refresh(index=new)
        return report
    finally:
        await es.close()


async def _reindex_months(es: AsyncElasticsearch, settings: Settings, source: str, show_progress: bool) -> ReindexReport:
    """The reindex of an alias over month indices: generation N+1 built beside it, all months
    swapped in one alias update, then the catch-up through the alias."""
    alias = settings.index_alias
    serving = sorted((await es.indices.get_alias(name=alias)).body)
    everything = await es.indices.get(index=f"{alias}-v*", allow_no_indices=True, expand_wildcards="all")
    generation = next_generation(alias, everything)
    built = f"{alias}-v{generation}-*"
    report = ReindexReport(source=source, old_index=months_text(alias, serving), new_index=built)
    topics = [settings.topic(source), settings.topic("news.removed")]
    snapshot = await end_offsets(settings, topics)
    with tqdm(total=sum(snapshot.values()), desc=f"reindex {source} -> {built}", unit="event",
              disable=not show_progress) as bar:
        for topic, write in _writers(es, settings, source, alias, report, generation):
            stop = {tp: end for tp, end in snapshot.items() if tp.topic == topic}
            report.indexed += await _index_range(es, settings, topic, {}, stop, bar, report, write)
        new = sorted(n for n in await es.indices.get(index=built, allow_no_indices=True, expand_wildcards="all")
                     if (p := parse_index(alias, n)) and p.generation == generation and p.month)
        if not new:  # nothing was indexed: the new generation still needs a month for the writers
            new = [index_name(alias, generation, datetime.now(timezone.utc).strftime("%Y.%m"))]
            await es.indices.create(index=new[0])
        await es.indices.refresh(index=built)
        # One atomic alias change: searches see every old month, or every new one.
        await es.indices.update_aliases(actions=generation_swap_actions(alias, serving, new))
        report.new_index = months_text(alias, new)
        # Whatever the live index stage wrote to the old months meanwhile, through the alias.
        latest = await end_offsets(settings, topics)
        for topic, write in _writers(es, settings, source, alias, report):
            stop = {tp: end for tp, end in latest.items() if tp.topic == topic}
            report.caught_up += await _index_range(es, settings, topic, snapshot, stop, bar, report, write)
    await es.indices.refresh(index=alias)
    report.old_indices, report.new_indices = serving, new
    return report


def months_text(alias: str, names: list[str]) -> str:
    """`articles-v2-2025.04..2025.06 (3 months)`, for the command's report."""
    parsed = [p for n in names if (p := parse_index(alias, n))]
    months = sorted(p.month for p in parsed if p.month)
    if not months:
        return ", ".join(names)
    generations = "/".join(f"v{g}" for g in sorted({p.generation for p in parsed}))
    span = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
    return f"{alias}-{generations}-{span} ({len(months)} month{'s' if len(months) != 1 else ''})"
