"""Fuzzing every input topic: malformed events (invalid JSON, wrong schema version, wrong types,
huge fields, missing envelope) interleaved with good ones. Every malformed event must end on
news.dlq with a reason, no worker may die, and every good event must reach Elasticsearch.

`make test` sends a few hundred per topic; `NEWSFLOW_FUZZ_COUNT=10000` (or `--fuzz-count`, as
`make test-chaos` does) sends as many as asked."""

from __future__ import annotations

import asyncio
import collections
import os
import time

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from newsflow.stages import WEB_PORT_OFFSETS
from newsflow.core.envelope import encode, make_event, utc_now
from newsflow.core.ids import article_id, new_trace_id
from newsflow.core.kafka import producer
from newsflow.enrich.stage import enrich
from newsflow.parse.stage import parse

from ..fuzzgen import KINDS, dlq_original, malformed
from .conftest import STAGES, wait_until
from .helpers import es
from .test_dead_letters import _raw

pytestmark = pytest.mark.integration

TOPICS = {  # input topic -> (its schema, good events per topic)
    "news.fetch.requests": ("news.fetch.request/1", 6),
    "news.raw": ("news.raw/1", 6),
    "news.parsed": ("news.parsed/1", 6),
    "news.enriched": ("news.enriched/1", 4),  # each good one costs an enrich() here, CoreNLP included
}
PAGES = ("river-cleanup-volunteers.html", "stadtfest-programm.html", "berlin-tram-extension.html", "chip-startup-funding.html")


def fuzz_count(request) -> int:
    return int(request.config.getoption("--fuzz-count", None) or os.environ.get("NEWSFLOW_FUZZ_COUNT") or 250)


def _good(topic: str, url: str, page: str) -> dict:
    if topic == "news.fetch.requests":
        return make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                          {"url": url, "source": "fuzz", "requested_at": utc_now()}, "fuzz")
    raw = _raw(url, page)
    return {"news.raw": lambda: raw, "news.parsed": lambda: parse(raw), "news.enriched": lambda: enrich(parse(raw))}[topic]()


async def _send_interleaved(settings, plan: dict[str, list[tuple[bytes | None, bytes]]]) -> None:
    async with producer(settings) as send:
        for topic, messages in plan.items():
            for key, value in messages:
                await send(settings.topic(topic), key, value)


async def _collect_dead_letters(settings, wanted: set[tuple[str, str]], timeout_s: float) -> dict:
    """Read news.dlq until every (topic, original) in `wanted` has a letter; returns those letters."""
    consumer = AIOKafkaConsumer(settings.topic("news.dlq"), bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
                                max_partition_fetch_bytes=32 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    found: dict[tuple[str, str], dict] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < len(wanted) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            for messages in batch.values():
                for message in messages:
                    payload = orjson.loads(message.value)["payload"]
                    key = (payload["topic"], payload["original"])
                    if key in wanted:
                        found[key] = payload
    finally:
        await consumer.stop()
    return found


def _indexed_count(settings, ids: list[str]) -> int:
    client = es(settings)
    try:
        client.options(ignore_status=404).indices.refresh(index=settings.index_alias)
        found = client.options(ignore_status=(404, 503)).count(index=settings.index_alias, query={"ids": {"values": ids}})
        return found.get("count", 0)
    finally:
        client.close()


def test_malformed_events_on_every_topic_are_dead_lettered_and_good_ones_flow(services, settings, sample_site, request):
    count, run = fuzz_count(request), int(time.time())
    plan, good_ids, wanted, kinds = {}, [], set(), collections.Counter()
    for t, (topic, (schema, n_good)) in enumerate(TOPICS.items()):
        goods = [_good(topic, f"{sample_site}/{PAGES[i % len(PAGES)]}?fuzz={run}-{t}-{i}", PAGES[i % len(PAGES)])
                 for i in range(n_good)]
        good_ids += [g["id"] for g in goods]
        bad = list(malformed(goods[0], schema, count, seed=run * 10 + t))
        kinds.update(kind for kind, _ in bad)
        wanted |= {(settings.topic(topic), dlq_original(value)) for _, value in bad}
        # good events spread evenly through the junk, so each one follows malformed ones
        slots = {round((j + 1) * len(bad) / (n_good + 1)): g for j, g in enumerate(goods)}
        messages = []
        for i, (_, value) in enumerate(bad):
            if i in slots:
                messages.append((slots[i]["id"].encode(), encode(slots[i], schema)))
            messages.append((None, value))
        plan[topic] = messages
    if count >= 100:
        assert set(kinds) == set(KINDS)
    started = time.monotonic()
    asyncio.run(_send_interleaved(settings, plan))

    letters = asyncio.run(_collect_dead_letters(settings, wanted, timeout_s=60 + count / 50))
    missing = len(wanted) - len(letters)
    assert missing == 0, f"{missing} of {len(wanted)} malformed events have no dead letter"
    assert all(p["reason"] and p["error"] == "InvalidEvent" for p in letters.values())
    wait_until(lambda: _indexed_count(settings, good_ids) == len(good_ids), 120, f"all {len(good_ids)} good events indexed")

    for stage in STAGES:  # nobody died, everybody answers
        assert services.alive(stage), f"{stage} died"
        url = f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/health"
        assert httpx.get(url, timeout=5).status_code == 200, stage
    print(f"\nfuzz: {len(wanted)} malformed ({dict(kinds)}) + {len(good_ids)} good in {time.monotonic() - started:.1f}s")
