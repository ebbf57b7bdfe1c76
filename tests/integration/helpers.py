"""Small helpers the integration tests share: submit, read topics, look in Elasticsearch."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from contextlib import contextmanager

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from elasticsearch import Elasticsearch

from newsflow.cli import _submit
from newsflow.core.kafka import admin_client, producer
from newsflow.core.settings import Settings
from newsflow.stages import WEB_PORT_OFFSETS


def stage_healthy(settings: Settings, stage: str) -> bool:
    """The stage's service on this host answers its /health with 200."""
    try:
        url = f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/health"
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# The stems of the topic prefixes ("<stem>.news.raw") and index names ("<stem>-articles-v1") this
# test session made; conftest removes their topics and indices when the session ends, so a
# developer's long-lived broker does not collect thousands of partitions (each one costs the broker
# work on every checkpoint and every client metadata on every refresh, whoever uses them).
RUN_STEMS: set[str] = set()


def run_stem(kind: str) -> str:
    """A fresh stem for one run's topic prefix (stem + ".") and index alias (stem + "-articles")."""
    stem = f"{kind}{uuid.uuid4().hex[:8]}"
    RUN_STEMS.add(stem)
    return stem


def delete_topics(settings: Settings, prefixes: list[str]) -> list[str]:
    """Deletes the topics whose names start with one of `prefixes` (an empty prefix matches
    nothing); -> the names deleted. Tests and benches use it for their runs' own topics."""
    prefixes = [p for p in prefixes if p]

    async def go() -> list[str]:
        admin = admin_client(settings, client_id="newsflow-tests-cleanup")
        await admin.start()
        try:
            ours = sorted(t for t in await admin.list_topics() if t.startswith(tuple(prefixes)))
            if ours:
                await admin.delete_topics(ours)
            return ours
        finally:
            await admin.close()

    return asyncio.run(asyncio.wait_for(go(), timeout=60)) if prefixes else []


def remove_run_data(settings: Settings, stems: list[str]) -> tuple[list[str], list[str]]:
    """Deletes the topics named "<stem>.*" and the indices named "<stem>-*"; -> what was deleted."""
    deleted_topics = delete_topics(settings, [f"{s}." for s in stems])
    client = es(settings)
    try:
        # Names, not a wildcard: a node may refuse wildcard deletes (action.destructive_requires_name).
        found = client.indices.get(index=",".join(f"{s}-*" for s in stems), expand_wildcards="all")
        indices = sorted(found)
        for start in range(0, len(indices), 50):
            client.indices.delete(index=",".join(indices[start:start + 50]))
    finally:
        client.close()
    return deleted_topics, indices


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


def refresh_alias(settings: Settings) -> None:
    """Make everything written to the alias so far searchable."""
    client = es(settings)
    try:
        client.indices.refresh(index=settings.index_alias)
    finally:
        client.close()


@contextmanager
def environ(values: dict[str, str]):
    """These environment variables set in this process for the block, the old values back after it."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def indexed(settings: Settings, article_id: str) -> dict | None:
    client = es(settings)
    try:
        # 404: not there yet; 503: the index was just created and its shard is still starting.
        found = client.options(ignore_status=(404, 503)).get(index=settings.index_alias, id=article_id)
        return found["_source"] if found.get("found") else None
    finally:
        client.close()


@contextmanager
def chromium_page(width: int, height: int):
    """A page in Debian's headless chromium (installed by `make browser`), driven by Playwright,
    which never downloads a browser of its own."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert os.path.exists(chromium), "Debian's chromium is installed by `make browser` (part of `make test`)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
