"""The Kafka side of `newsflow dlq`: read news.dlq and the redrive markers up to their current
end, and redrive the selected dead letters, once each (the choices are in letters.py).

A redrive sends a batch of originals, waits until the broker has them all (acks=all, idempotent
producer), and only then writes their markers and waits for those: a crash in between can send
a letter again at the next redrive (at-least-once, like every stage; the ids make a second copy
harmless), never lose one. Two redrives run at the same moment could both send a letter.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from ..core.security import kafka_client_options
from ..core.envelope import encode
from ..core.kafka import end_offsets
from ..core.settings import Settings
from ..core.topics import ensure_topics
from .letters import (DLQ_TOPIC, REDRIVE_SCHEMA, REDRIVE_TOPIC, DeadLetter, RedrivePlan, Selection, marker_event,
                      marker_key, parse_letter, parse_marker, plan_redrive, redrive_headers, redriven_positions)

BATCH = 500


@dataclass(repr=False)  # asyncio may repr the task that returns one: 20,000 letters took seconds
class Snapshot:
    """news.dlq as read just now: its dead letters in order, the records that were not dead
    letters, and the markers of the letters redriven before."""
    letters: list[DeadLetter]
    unreadable: int
    markers: dict[str, dict]
    redriven: set[str] = field(default_factory=set)


async def _read_all(settings: Settings, topic: str):
    """Every record of a topic from its beginning to its end as of now (none if it is missing)."""
    ends = await end_offsets(settings, [topic])
    if not ends:  # no such topic (yet)
        return []
    tps = sorted(ends, key=lambda tp: tp.partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                max_partition_fetch_bytes=16 * 1024 * 1024, **kafka_client_options(settings))
    await consumer.start()
    try:
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > starts[tp]}
        for tp in tps:
            consumer.seek(tp, starts[tp])
        records = []
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=2000, max_records=2000)
            for tp, messages in batch.items():
                records.extend(m for m in messages if m.offset < ends[tp])
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        return records
    finally:
        await consumer.stop()


async def snapshot(settings: Settings) -> Snapshot:
    records = await _read_all(settings, settings.topic(DLQ_TOPIC))
    letters, unreadable = [], 0
    for record in records:
        letter = parse_letter(record.value, record.partition, record.offset, record.timestamp)
        if letter is None:
            unreadable += 1
        else:
            letters.append(letter)
    letters.sort(key=lambda letter: (letter.partition, letter.offset))
    markers = {}
    for record in await _read_all(settings, settings.topic(REDRIVE_TOPIC)):
        marker = parse_marker(record.value)
        if marker is not None:
            markers[marker["payload"]["letter"]] = marker  # compacted by key: the last one counts
    found = Snapshot(letters=letters, unreadable=unreadable, markers=markers)
    found.redriven = redriven_positions(letters, markers)
    return found


@dataclass
class RedriveReport:
    selected: int
    sent: dict[str, int]            # target topic -> letters sent there
    already: int
    unroutable: int
    dry_run: bool

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())


async def redrive(settings: Settings, selection: Selection, *, dry_run: bool = False,
                  show_progress: bool = True) -> RedriveReport:
    await ensure_topics(settings)  # the marker topic, on a broker that has not seen it yet
    found = await snapshot(settings)
    plan = plan_redrive(found.letters, selection, found.redriven, settings.topic_prefix)
    report = RedriveReport(selected=len(plan.send) + plan.already + plan.unroutable, sent={},
                           already=plan.already, unroutable=plan.unroutable, dry_run=dry_run)
    if dry_run:
        report.sent = plan.by_target()
        return report
    await _send(settings, plan, report, show_progress)
    return report


async def _send(settings: Settings, plan: RedrivePlan, report: RedriveReport, show_progress: bool) -> None:
    client = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                              max_request_size=10 * 1024 * 1024, **kafka_client_options(settings))
    await client.start()
    dlq_topic = settings.topic(DLQ_TOPIC)
    try:
        with tqdm(total=len(plan.send), desc="redrive", unit="letter", disable=not show_progress or not plan.send) as bar:
            for start in range(0, len(plan.send), BATCH):
                batch = plan.send[start:start + BATCH]
                sent = await asyncio.gather(*[
                    await client.send(target, value=letter.original, key=letter.letter_id.encode(),
                                      headers=redrive_headers(letter, dlq_topic))
                    for letter, target in batch])
                # Only once the broker has every original are they recorded as redriven.
                await asyncio.gather(*[
                    await client.send(settings.topic(REDRIVE_TOPIC), key=marker_key(letter),
                                      value=encode(marker_event(letter, target, meta.partition, meta.offset), REDRIVE_SCHEMA))
                    for (letter, target), meta in zip(batch, sent)])
                for _, target in batch:
                    report.sent[target] = report.sent.get(target, 0) + 1
                bar.update(len(batch))
    finally:
        await client.stop()
