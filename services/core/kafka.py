"""Kafka helpers outside the faust workers: a plain producer for the CLI and tests, and the
per-stage offsets and lag that `newsflow status` shows."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from .backoff import backoff_delay
from .security import kafka_client_options
from .settings import Settings


# A broker answers "coordinator not available" or "loading" for a while after it starts (it
# creates and loads __consumer_offsets on the first group request): wait that out, not longer.
COORDINATOR_WAIT_S = 30.0


def admin_client(settings: Settings, client_id: str = "newsflow") -> AIOKafkaAdminClient:
    """An admin client to the configured brokers, with the security options."""
    return AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id=client_id,
                               **kafka_client_options(settings))


async def committed_offsets(settings: Settings, group: str,
                            partitions: list[TopicPartition] | None = None) -> dict[TopicPartition, int]:
    """The group's committed offsets (of `partitions`, or of all it committed); a partition it
    never committed is left out."""
    admin = admin_client(settings)
    await admin.start()
    try:
        return await group_offsets(admin, group, partitions)
    finally:
        await admin.close()


async def group_offsets(admin: AIOKafkaAdminClient, group: str,
                        partitions: list[TopicPartition] | None = None) -> dict[TopicPartition, int]:
    """`committed_offsets` on an open admin client, asked again while the broker's answer is a
    retriable error (its group coordinator still starting), for up to COORDINATOR_WAIT_S."""
    wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions] if partitions is not None else None
    deadline = time.monotonic() + COORDINATOR_WAIT_S
    attempt = 0
    while True:
        try:
            found = await admin.list_consumer_group_offsets(group, partitions=wanted)
            return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
        except KafkaError as exc:
            attempt += 1
            delay = backoff_delay(attempt, cap=2.0)
            if not exc.retriable or time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)


def group_id(stage: str, settings: Settings) -> str:
    """The stage's consumer group, which is also its faust app id."""
    return f"{settings.topic_prefix}newsflow-{stage}"


@asynccontextmanager
async def producer(settings: Settings):
    """Yields `send(topic, key, value)`, which returns once the broker has the message."""
    client = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                              max_request_size=10 * 1024 * 1024, **kafka_client_options(settings))
    await client.start()
    try:
        async def send(topic: str, key: bytes | None, value: bytes):
            return await client.send_and_wait(topic, value=value, key=key)

        yield send
    finally:
        await client.stop()


async def end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    admin = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described if not t["error_code"] for p in t["partitions"]]
    if not partitions:  # (and an aiokafka consumer stopped right after its start raises CancelledError)
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                **kafka_client_options(settings))
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def pipeline_status(settings: Settings, stage_inputs: tuple[tuple[str, str], ...]) -> dict:
    """Per (stage, input topic): messages, committed offsets and lag; dead letters; documents."""
    topics = [settings.topic(t) for t in (*(topic for _, topic in stage_inputs), "news.dlq")]
    ends = await end_offsets(settings, topics)
    admin = admin_client(settings)
    await admin.start()
    stages = []
    try:
        for stage, topic in stage_inputs:
            topic = settings.topic(topic)
            committed = await group_offsets(admin, group_id(stage, settings))
            total = sum(v for tp, v in ends.items() if tp.topic == topic)
            done = sum(offset for tp, offset in committed.items() if tp.topic == topic)
            stages.append({"stage": stage, "topic": topic, "messages": total, "committed": done, "lag": total - done})
    finally:
        await admin.close()
    dead = sum(v for tp, v in ends.items() if tp.topic == settings.topic("news.dlq"))
    documents, error = await _document_count(settings)
    return {"stages": stages, "dead_letters": dead, "index": settings.index_alias, "documents": documents,
            "elasticsearch_error": error}


async def _document_count(settings: Settings) -> tuple[int | None, str | None]:
    """(documents behind the alias, None), (None, None) before the index exists, or (None, why
    Elasticsearch could not be asked)."""
    from elasticsearch import ApiError, NotFoundError

    from .es import es_client

    es = es_client(settings)
    try:
        return (await es.count(index=settings.index_alias))["count"], None
    except NotFoundError:
        return None, None
    except ApiError as exc:
        return None, f"Elasticsearch at {settings.elasticsearch_url} answered {exc.meta.status}: {' '.join(str(exc).split())[:200]}"
    except Exception as exc:  # noqa: BLE001 - status reports what it can, and says what it could not
        return None, f"Elasticsearch at {settings.elasticsearch_url} is unreachable ({type(exc).__name__}); documents not counted"
    finally:
        await es.close()
