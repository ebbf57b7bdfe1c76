"""The local cluster (`make cluster-up`: infra/stack.sh cluster-up) with the cluster settings:
three KRaft brokers and two Elasticsearch nodes on loopback, under the test's own NEWSFLOW_VAR
and ports. Topics and changelogs are created replicated three times with two in sync; writes
with acks=all and reads go on while one broker is stopped, and every message is there after;
documents written with one replica are all found through the bootstrap list of nodes while
one Elasticsearch node is stopped. Stopped servers are brought back by cluster-up."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from newsflow.core.envelope import make_event, utc_now
from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index, template_name
from newsflow.core.kafka import end_offsets, producer
from newsflow.core.settings import Settings
from newsflow.core.kafka import admin_client
from newsflow.core.topics import ensure_compacted_topic, ensure_topics
from newsflow.index.documents import to_action
from newsflow.index.writer import write_batch

from .conftest import wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _bases() -> tuple[int, int]:
    """Port bases below the ephemeral range whose every port the cluster takes is free."""
    for kafka in range(12092, 17000, 97):
        es = kafka + 1000
        if all(_free(p) for p in (*range(kafka, kafka + 6), es, es + 1, es + 100, es + 101)):
            return kafka, es
    raise RuntimeError("no free ports for the cluster")


@pytest.fixture(scope="module")
def cluster(stack):
    var = Path(tempfile.mkdtemp(prefix="newsflow-cluster-", dir="/tmp"))
    os.chmod(var, 0o755)  # Elasticsearch runs as its own user when we are root
    kafka, es = _bases()
    env = {**os.environ, "NEWSFLOW_VAR": str(var), "CLUSTER_KAFKA_PORT": str(kafka), "CLUSTER_ES_PORT": str(es),
           "KAFKA_HEAP": "256m", "ES_HEAP": "512m", "ES_START_WAIT": "600"}

    def up():
        subprocess.run([str(REPO / "infra" / "stack.sh"), "cluster-up"], env=env, check=True, timeout=1500)

    try:
        up()
        yield {"var": var / "cluster", "up": up, "kafka": f"127.0.0.1:{kafka},127.0.0.1:{kafka + 2},127.0.0.1:{kafka + 4}",
               "es": f"http://127.0.0.1:{es},http://127.0.0.1:{es + 1}"}
    finally:
        subprocess.run([str(REPO / "infra" / "stack.sh"), "cluster-down"], env=env, timeout=300)
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture
def settings(cluster, monkeypatch):
    for name, value in {"NEWSFLOW_KAFKA": cluster["kafka"], "NEWSFLOW_ELASTICSEARCH": cluster["es"],
                        "NEWSFLOW_KAFKA_REPLICATION_FACTOR": "3", "NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS": "2",
                        "NEWSFLOW_ES_REPLICAS": "1", "NEWSFLOW_TOPIC_PREFIX": f"cl{uuid.uuid4().hex[:8]}.",
                        "NEWSFLOW_INDEX_ALIAS": f"cl{uuid.uuid4().hex[:8]}-articles"}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def stop(pid_file: Path) -> None:
    """Stop one server we started, by its pid, as an operator would, and wait until it is gone."""
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)


async def replicas(settings: Settings, topics: list[str]) -> dict[str, tuple[set[int], set[int]]]:
    """topic -> (replica counts, in-sync counts) over its partitions, and min.insync.replicas."""
    admin = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    min_isr = {}
    for response in configs:
        for resource in response.resources:
            values = {entry[0]: entry[1] for entry in resource[4]}
            min_isr[resource[3]] = values.get("min.insync.replicas")
    return {t["topic"]: ({len(p["replicas"]) for p in t["partitions"]}, {len(p["isr"]) for p in t["partitions"]},
                         min_isr.get(t["topic"])) for t in described}


def test_nothing_is_lost_while_a_broker_and_an_elasticsearch_node_are_down(cluster, settings):
    raw, changelog = settings.topic("news.raw"), f"{settings.topic_prefix}newsflow-fetch-url-state-changelog"
    asyncio.run(ensure_topics(settings))
    asyncio.run(ensure_compacted_topic(settings, changelog, settings.partitions_for(6)))
    # (a broker's metadata may lag a creation a moment: ask until every partition is described)
    wanted = {raw: ({3}, {3}, "2"), changelog: ({3}, {3}, "2")}
    found = wait_until(lambda: (f := asyncio.run(replicas(settings, [raw, changelog]))) == wanted and f, 60,
                       "every partition of both topics on 3 brokers, all in sync")
    assert found == wanted

    async def send(start: int, n: int) -> None:
        async with producer(settings) as put:  # acks=all
            for i in range(start, start + n):
                await put(raw, f"k{i}".encode(), b"{}")

    asyncio.run(send(0, 30))
    stop(cluster["var"] / "kafka-2" / "kafka.pid")
    asyncio.run(send(30, 30))          # two of three in sync: still accepted
    assert sum(asyncio.run(end_offsets(settings, [raw])).values()) == 60

    # Elasticsearch: one replica of every shard, then one node stopped
    async def index(n: int) -> int:
        async with es_client(settings) as es:
            await ensure_index(es, settings)
            actions = [to_action(make_event("news.enriched/1", uuid.uuid4().hex, uuid.uuid4().hex, {
                "url": f"https://x.example/{i}", "final_url": f"https://x.example/{i}", "title": f"Article {i}",
                "text": "Meta hired dozens of researchers.", "language": "en", "fetched_at": "2025-06-24T10:00:00Z",
                "parser_version": "t", "page_type": "article",
                "enrichment": {"version": "t", "language": {"code": "en", "confidence": 1.0}}}, "test"),
                settings.index_alias, utc_now()) for i in range(n)]
            result = await write_batch(es, actions, require_alias=True)
            await es.indices.refresh(index=settings.index_alias)
            health = await es.cluster.health(index=settings.index_alias, wait_for_status="green", timeout="120s")
            assert health["status"] == "green", health
            return result.written

    async def count() -> int:
        async with es_client(settings) as es:
            return (await es.count(index=settings.index_alias))["count"]

    assert asyncio.run(index(20)) == 20
    stop(cluster["var"] / "es-2" / "es.pid")
    assert asyncio.run(count()) == 20, "every document through the node that is left"

    cluster["up"]()                   # both back
    wait_until(lambda: asyncio.run(replicas(settings, [raw]))[raw][1] == {3}, 300, "broker 2 back in sync")
    assert sum(asyncio.run(end_offsets(settings, [raw])).values()) == 60
    assert asyncio.run(count()) == 20

    async def cleanup():
        async with es_client(settings) as es:
            await es.indices.delete(index=f"{settings.index_alias}-v*")
            await es.indices.delete_index_template(name=template_name(settings))

    asyncio.run(cleanup())
