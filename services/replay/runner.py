"""Replay: re-drive a range of a topic through its stage, under the replay's own consumer
group, so improved parsing or enrichment reaches old articles.

news.raw -> parse -> news.parsed, news.parsed -> enrich -> news.enriched (the running
services carry the results on), news.enriched -> index -> Elasticsearch. The stage functions
are exactly the services' own (the shared shell's `handle_message`): bad input still goes to
news.dlq. Offsets of the replay group are committed only after the outputs are acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from tqdm import tqdm

from ..core.dlq import DLQ_SCHEMA, dead_letter_of
from ..core.envelope import encode
from ..core.es import es_client
from ..core.kafka import end_offsets, producer
from ..core.security import kafka_client_options
from ..core.settings import Settings
from ..core.stage import handle_message
from .positions import resolve

REPLAYABLE = ("news.raw", "news.parsed", "news.enriched")


@dataclass
class ReplayReport:
    topic: str
    group: str
    read: int = 0
    written: int = 0
    dead_letters: int = 0
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)


def _stage_spec(topic: str):
    if topic == "news.raw":
        from ..parse.stage import stage_spec
    elif topic == "news.parsed":
        from ..enrich.stage import stage_spec
    else:
        raise ValueError(f"no stage function replays {topic}")
    return stage_spec()


def replay_group(topic: str, settings: Settings) -> str:
    return f"{settings.topic_prefix}newsflow-replay-{topic}"


async def _bounds(consumer, settings, topic, start, stop) -> dict[TopicPartition, tuple[int, int]]:
    ends = await end_offsets(settings, [settings.topic(topic)])
    partitions = sorted(ends, key=lambda tp: tp.partition)
    firsts = await consumer.beginning_offsets(partitions)
    begin = await resolve(consumer, partitions, start, default=firsts)
    finish = await resolve(consumer, partitions, stop, default=ends)
    return {tp: (begin[tp], max(begin[tp], finish[tp])) for tp in partitions}


async def read_range(consumer: AIOKafkaConsumer, bounds: dict[TopicPartition, tuple[int, int]]):
    """Yields batches of the messages inside the bounds ([first, stop) offsets per partition),
    with the partitions assigned to the consumer by hand."""
    pending = {tp for tp, (lo, hi) in bounds.items() if hi > lo}
    consumer.assign(list(pending))
    for tp in pending:
        consumer.seek(tp, bounds[tp][0])
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=2000, max_records=500)
        messages = []
        for tp, records in batch.items():
            messages.extend(m for m in records if m.offset < bounds[tp][1])
            if records and records[-1].offset + 1 >= bounds[tp][1]:
                pending.discard(tp)
        if messages:
            yield messages


async def replay(topic: str, settings: Settings, *, start: int | datetime | None = None,
                 stop: int | datetime | None = None, show_progress: bool = True) -> ReplayReport:
    if topic not in REPLAYABLE:
        raise ValueError(f"--topic must be one of {', '.join(REPLAYABLE)}")
    group = replay_group(topic, settings)
    report = ReplayReport(topic=topic, group=group)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group,
                                enable_auto_commit=False, max_partition_fetch_bytes=16 * 1024 * 1024, **kafka_client_options(settings))
    await consumer.start()
    try:
        bounds = await _bounds(consumer, settings, topic, start, stop)
        report.ranges = {f"{tp.topic}:{tp.partition}": b for tp, b in bounds.items()}
        total = sum(hi - lo for lo, hi in bounds.values())
        with tqdm(total=total, desc=f"replay {topic}", unit="event", disable=not show_progress) as bar:
            if topic == "news.enriched":
                await _replay_into_index(consumer, bounds, settings, report, bar)
            else:
                await _replay_through_stage(consumer, bounds, settings, report, bar, _stage_spec(topic))
    finally:
        await consumer.stop()
    return report


async def _commit(consumer: AIOKafkaConsumer, messages) -> None:
    last: dict[TopicPartition, int] = {}
    for m in messages:
        last[TopicPartition(m.topic, m.partition)] = m.offset + 1
    await consumer.commit(last)


async def _replay_through_stage(consumer, bounds, settings, report, bar, spec) -> None:
    async with producer(settings) as send:
        async for messages in read_range(consumer, bounds):
            for m in messages:
                out = await handle_message(spec, m.value, settings, m.partition, m.offset)
                await send(out.topic, out.key, out.value)
                report.read += 1
                if out.schema == DLQ_SCHEMA:
                    report.dead_letters += 1
                else:
                    report.written += 1
            await _commit(consumer, messages)  # outputs are acknowledged: safe to move on
            bar.update(len(messages))


async def _replay_into_index(consumer, bounds, settings, report, bar) -> None:
    from ..index.sink import write_events

    es = es_client(settings)
    try:
        async with producer(settings) as send:
            async for messages in read_range(consumer, bounds):
                written = await write_events(es, [m.value for m in messages], settings)
                report.read += len(messages)
                report.written += written.result.written
                for failure in written.failures:
                    await _send_dead_letter(send, settings, messages[failure.position], failure.error, failure.reason,
                                            failure.event)
                    report.dead_letters += 1
                await _commit(consumer, messages)  # documents and dead letters are safe: move on
                bar.update(len(messages))
    finally:
        await es.close()


async def _send_dead_letter(send, settings, message, error, reason: str, event: dict | None = None) -> None:
    letter = dead_letter_of(message, stage="index", error=error, reason=reason, event=event)
    await send(settings.topic("news.dlq"), letter["id"].encode(), encode(letter, DLQ_SCHEMA))


def report_json(report: ReplayReport) -> bytes:
    return orjson.dumps(report.__dict__)
