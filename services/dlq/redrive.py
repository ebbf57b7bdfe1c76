"""The Kafka side of `newsflow dlq`: read news.dlq and the redrive markers up to their current
end, and redrive the selected dead letters, once each (the choices are in letters.py).

Two redrives at the same moment are fenced by Kafka itself: every redrive opens a transactional
producer under one fixed transactional.id (`<prefix>newsflow-dlq-redrive`), whose start bumps
the id's epoch, aborts an earlier run's open transaction, and makes the broker refuse that run's
next transactional write (ProducerFenced). Only then does it read the markers (read_committed).
Per batch of letters:

1. claim them (news.dlq.claim/1 on news.dlq.redrive) in one transaction and commit it: a fenced
   run fails here, before it sends anything, and ends with RedriveFenced;
2. send the originals with a plain idempotent producer (acks=all) and wait for the broker;
3. write their news.dlq.redrive/1 markers, which replace the claims.

The originals are not in the transaction on purpose: the stages are faust consumers, which read
uncommitted records (faust reads committed only with processing_guarantee="exactly_once", which
would take the offset commits away from core/delivery.py), so an aborted batch of originals would
still reach them. So a letter's original is sent only by the run that holds its committed claim.
A later run leaves letters with a live claim alone (their run may be in step 2) and sends again
those whose claim was never confirmed within NEWSFLOW_DLQ_CLAIM_TIMEOUT (their run died between 1
and 3: at-least-once, like every stage; the ids make a second copy harmless); a run that took
more than half that timeout to get its claim committed does not send the batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from tqdm import tqdm

from ..core.security import kafka_client_options
from ..core.envelope import encode
from ..core.kafka import end_offsets
from ..core.settings import Settings
from ..core.topics import ensure_topics
from .letters import (CLAIM_SCHEMA, DLQ_TOPIC, REDRIVE_SCHEMA, REDRIVE_TOPIC, DeadLetter, RedrivePlan, Selection,
                      claim_event, claimed_positions, marker_event, marker_key, parse_letter, parse_marker,
                      plan_redrive, redrive_headers, redriven_positions)

BATCH = 500


class RedriveFenced(RuntimeError):
    """Another redrive started after this one and took over; this one stopped before its next batch."""

    def __init__(self, report: "RedriveReport", why: str):
        self.report = report
        super().__init__(f"{why}; this redrive stopped after sending {report.total_sent} of {report.selected} "
                         f"selected dead letters, the other one sends the rest (see `newsflow dlq count`)")


def fence_id(settings: Settings) -> str:
    """The one transactional.id every redrive of this topic prefix shares: the fence."""
    return f"{settings.topic_prefix}newsflow-dlq-redrive"


@dataclass(repr=False)  # asyncio may repr the task that returns one: 20,000 letters took seconds
class Snapshot:
    """news.dlq as read just now: its dead letters in order, the records that were not dead
    letters, and the markers of the letters redriven before."""
    letters: list[DeadLetter]
    unreadable: int
    markers: dict[str, dict]
    redriven: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)   # claimed by a redrive that may still be sending them


async def _read_all(settings: Settings, topic: str, committed: bool = False):
    """Every record of a topic from its beginning to its end as of now (none if it is missing);
    with `committed`, only committed records, up to the last stable offset."""
    partitions = await end_offsets(settings, [topic])
    if not partitions:  # no such topic (yet)
        return []
    tps = sorted(partitions, key=lambda tp: tp.partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                max_partition_fetch_bytes=16 * 1024 * 1024,
                                isolation_level="read_committed" if committed else "read_uncommitted",
                                **kafka_client_options(settings))
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)  # the last stable offset when reading committed
        starts = await consumer.beginning_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > starts[tp]}
        for tp in tps:
            consumer.seek(tp, starts[tp])
        records = []
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=2000, max_records=2000)
            for tp, messages in batch.items():
                records.extend(m for m in messages if m.offset < ends[tp])
            # by position, not by the last record: transaction markers take offsets no record has
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return records
    finally:
        await consumer.stop()


async def snapshot(settings: Settings, now: datetime | None = None) -> Snapshot:
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
    for record in await _read_all(settings, settings.topic(REDRIVE_TOPIC), committed=True):
        marker = parse_marker(record.value)
        if marker is not None:
            markers[marker["payload"]["letter"]] = marker  # compacted by key: the last one counts
    found = Snapshot(letters=letters, unreadable=unreadable, markers=markers)
    found.redriven = redriven_positions(letters, markers)
    found.claimed = claimed_positions(letters, markers, now or datetime.now(timezone.utc), settings.dlq_claim_timeout_s)
    return found


@dataclass
class RedriveReport:
    selected: int
    sent: dict[str, int]            # target topic -> letters sent there
    already: int
    unroutable: int
    dry_run: bool
    claimed: int = 0                # left to another redrive that claimed them and may still be sending

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())


async def redrive(settings: Settings, selection: Selection, *, dry_run: bool = False, show_progress: bool = True,
                  batch_size: int = BATCH, on_step: Callable[[str], Awaitable[None]] | None = None) -> RedriveReport:
    """Redrive the selected letters not redriven nor claimed before; raises RedriveFenced when
    another redrive started meanwhile (it sends the rest). `on_step("claimed" | "marked")` runs
    after each batch's claim and after its markers (the tests start a rival there)."""
    await ensure_topics(settings)  # the marker topic, on a broker that has not seen it yet
    if dry_run:
        return _report(await snapshot(settings), selection, settings, dry_run=True)[0]
    fence = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, transactional_id=fence_id(settings),
                             acks="all", **kafka_client_options(settings))
    await fence.start()
    try:
        # Its producer id, fetched now under the fixed transactional.id, fences every earlier run
        # and settles its open transaction; only after that are the markers read.
        await fence.begin_transaction()
        report, plan = _report(await snapshot(settings), selection, settings, dry_run=False)
        if not plan.send:
            await fence.commit_transaction()  # an empty one: nothing was written in it
            return report
        await _send(settings, fence, plan, report, show_progress, batch_size, on_step)
        return report
    finally:
        await fence.stop()


def _report(found: Snapshot, selection: Selection, settings: Settings, dry_run: bool) -> tuple[RedriveReport, RedrivePlan]:
    plan = plan_redrive(found.letters, selection, found.redriven, settings.topic_prefix, found.claimed)
    report = RedriveReport(selected=len(plan.send) + plan.already + plan.unroutable + plan.claimed, sent={},
                           already=plan.already, unroutable=plan.unroutable, dry_run=dry_run, claimed=plan.claimed)
    if dry_run:
        report.sent = plan.by_target()
    return report, plan


async def _send(settings: Settings, fence: AIOKafkaProducer, plan: RedrivePlan, report: RedriveReport,
                show_progress: bool, batch_size: int, on_step) -> None:
    client = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                              max_request_size=10 * 1024 * 1024, **kafka_client_options(settings))
    await client.start()
    dlq_topic, marker_topic = settings.topic(DLQ_TOPIC), settings.topic(REDRIVE_TOPIC)
    run = uuid.uuid4().hex
    in_transaction = True  # redrive() began the first one
    try:
        with tqdm(total=len(plan.send), desc="redrive", unit="letter", disable=not show_progress or not plan.send) as bar:
            for start in range(0, len(plan.send), batch_size):
                batch = plan.send[start:start + batch_size]
                # 1. the claim, committed only while no later redrive has fenced this one
                began = time.monotonic()
                claimed_at = datetime.now(timezone.utc)
                try:
                    if not in_transaction:
                        await fence.begin_transaction()
                    await asyncio.gather(*[
                        await fence.send(marker_topic, key=marker_key(letter),
                                         value=encode(claim_event(letter, target, run, claimed_at), CLAIM_SCHEMA))
                        for letter, target in batch])
                    await fence.commit_transaction()
                    in_transaction = False
                except (ProducerFenced, InvalidProducerEpoch):
                    raise RedriveFenced(report, "another `newsflow dlq redrive` started meanwhile and fenced this one") from None
                if time.monotonic() - began > settings.dlq_claim_timeout_s / 2:
                    raise RedriveFenced(report, f"claiming a batch took over half of NEWSFLOW_DLQ_CLAIM_TIMEOUT "
                                                f"({settings.dlq_claim_timeout_s:g} s); its letters are left to the next redrive")
                if on_step is not None:
                    await on_step("claimed")
                # 2. the originals, by the holder of their claim only
                sent = await asyncio.gather(*[
                    await client.send(target, value=letter.original, key=letter.letter_id.encode(),
                                      headers=redrive_headers(letter, dlq_topic))
                    for letter, target in batch])
                # 3. only once the broker has every original are they recorded as redriven
                await asyncio.gather(*[
                    await client.send(marker_topic, key=marker_key(letter),
                                      value=encode(marker_event(letter, target, meta.partition, meta.offset), REDRIVE_SCHEMA))
                    for (letter, target), meta in zip(batch, sent)])
                for _, target in batch:
                    report.sent[target] = report.sent.get(target, 0) + 1
                bar.update(len(batch))
                if on_step is not None:
                    await on_step("marked")
    finally:
        await client.stop()
