"""Small helpers the integration tests share: submit, read topics, look in Elasticsearch."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from elasticsearch import Elasticsearch

from newsflow.cli import _submit
from newsflow.core.kafka import producer
from newsflow.core.settings import Settings
from newsflow.stages import WEB_PORT_OFFSETS


def stage_healthy(settings: Settings, stage: str) -> bool:
    """The stage's service on this host answers its /health with 200."""
    try:
        url = f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/health"
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def submit(urls: list[str]) -> list[str]:
    return asyncio.run(_submit(urls, "test"))


def send_raw(settings: Settings, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    async def go():
        async with producer(settings) as send:
            for value in values:
                await send(settings.topic(topic), key, value)

    asyncio.run(go())


def _json_or_none(value: bytes):
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def read_topic(settings: Settings, topic: str, timeout_s: float = 2.0) -> list[dict]:
    """Every JSON event on a topic from the beginning (other tests put junk there too)."""
    async def go():
        consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
        await consumer.start()
        events = []
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=int(timeout_s * 1000))
                if not batch:
                    return events
                for messages in batch.values():
                    events.extend(e for e in map(_json_or_none, (m.value for m in messages)) if isinstance(e, dict))
        finally:
            await consumer.stop()

    return asyncio.run(go())


def es(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_url, request_timeout=30)


def indexed(settings: Settings, article_id: str) -> dict | None:
    client = es(settings)
    try:
        # 404: not there yet; 503: the index was just created and its shard is still starting.
        found = client.options(ignore_status=(404, 503)).get(index=settings.index_alias, id=article_id)
        return found["_source"] if found.get("found") else None
    finally:
        client.close()
