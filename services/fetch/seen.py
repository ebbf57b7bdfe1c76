"""Which discovered URLs were already submitted, so that a feed polled every few minutes, or
given twice to `newsflow submit --feed`, does not request its old entries again.

The record is a compacted Kafka topic keyed by article id (`<prefix>newsflow-fetch-discovered`),
shared by the fetch service's poller and the command line: each reads it to the end before
deciding, and appends what it submitted."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ..core.envelope import utc_now
from ..core.kafka import group_id
from ..core.security import kafka_client_options
from ..core.settings import Settings
from ..core.topics import ensure_compacted_topic


def seen_topic(settings: Settings) -> str:
    return f"{group_id('fetch', settings)}-discovered"


class SeenLog:
    def __init__(self, settings: Settings):
        self.settings, self.topic = settings, seen_topic(settings)
        self.ids: set[str] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._tp = TopicPartition(self.topic, 0)

    async def start(self) -> "SeenLog":
        await ensure_compacted_topic(self.settings, self.topic, 1)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False,
                                          group_id=None, auto_offset_reset="earliest",
                                          **kafka_client_options(self.settings))
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._consumer.seek_to_beginning(self._tp)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
                                          **kafka_client_options(self.settings))
        await self._producer.start()
        await self.refresh()
        return self

    async def stop(self) -> None:
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()

    async def __aenter__(self) -> "SeenLog":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def refresh(self) -> None:
        """Read what others added since last time, up to the current end of the topic."""
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        while await self._consumer.position(self._tp) < end:
            batch = await self._consumer.getmany(self._tp, timeout_ms=1000, max_records=10_000)
            self.ids.update(m.key.decode() for m in batch.get(self._tp, []) if m.key)

    def new(self, ids: list[str]) -> list[str]:
        return [i for i in ids if i not in self.ids]

    async def add(self, entries: list[tuple[str, str]], source: str) -> None:
        """Record (article id, url) pairs as submitted, acknowledged by the broker."""
        sent = [await self._producer.send(self.topic, key=aid.encode(),
                                          value=orjson.dumps({"url": url, "source": source, "seen_at": utc_now()}))
                for aid, url in entries]
        for future in sent:
            await future
        self.ids.update(aid for aid, _ in entries)
