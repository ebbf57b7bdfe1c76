"""The local cluster (`make cluster-up`: infra/stack.sh cluster-up) with the cluster settings:
three KRaft brokers and two Elasticsearch nodes on loopback, under the test's own NEWSFLOW_VAR
and ports, one cluster for the whole module.

- Topics and changelogs are created replicated three times with two in sync, and the index
  with one replica of every shard (green on two nodes).
- The pipeline itself (fetch, parse, enrich, index as services, the shared CoreNLP) on the
  cluster through the bootstrap lists, replication 3, min.insync 2, Elasticsearch replicas 1:
  a batch of generated article pages is submitted at a steady pace and, while it flows, the
  leader broker of the busiest partition is SIGKILLed and brought back, or one Elasticsearch
  node is stopped and brought back, or all three brokers are restarted one after another.
  Each ends with every article of the batch indexed, every consumer group at lag 0, every
  partition back in sync, and every document written once: the operations Elasticsearch
  sequenced on the index's shards (max_seq_no + 1 of each primary, which survives restarts
  and fail-overs, unlike the indexing counters) grew by exactly the batch.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from elasticsearch import Elasticsearch

from newsflow.stages import STAGE_INPUTS
from newsflow.core.envelope import encode, make_event, utc_now
from newsflow.core.ids import article_id, new_trace_id
from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index, template_name
from newsflow.core.kafka import admin_client, end_offsets, pipeline_status, producer
from newsflow.core.settings import Settings
from newsflow.core.topics import ensure_compacted_topic, ensure_topics
from newsflow.index.documents import to_action
from newsflow.index.writer import write_batch

from ..articlesite import ArticleSite
from .conftest import STAGES, Services, wait_until
from .helpers import stage_healthy
from .ports import web_port_base

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
    # NEWSFLOW_TEST_CLUSTER_VAR (with CLUSTER_KAFKA_PORT and CLUSTER_ES_PORT): reuse the cluster
    # started there (`infra/stack.sh cluster-up`, started if need be) and leave it running, to
    # work on these tests without waiting minutes for a cluster each time.
    reuse = os.environ.get("NEWSFLOW_TEST_CLUSTER_VAR")
    if reuse:
        var, kafka, es = Path(reuse), int(os.environ["CLUSTER_KAFKA_PORT"]), int(os.environ["CLUSTER_ES_PORT"])
    else:
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
        if not reuse:
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


def test_topics_changelogs_and_the_index_are_replicated(cluster, settings):
    """Replication as configured (the pipeline tests below stop brokers and a node under load)."""
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

    asyncio.run(send(0, 60))
    assert sum(asyncio.run(end_offsets(settings, [raw])).values()) == 60

    # Elasticsearch: one replica of every shard
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

    assert asyncio.run(index(20)) == 20   # green: every shard with its replica on the other node
    assert asyncio.run(count()) == 20

    async def cleanup():
        async with es_client(settings) as es:
            await es.indices.delete(index=f"{settings.index_alias}-v*")
            await es.indices.delete_index_template(name=template_name(settings))

    asyncio.run(cleanup())


# ---------------------------------------------------------------- the pipeline on the cluster

BATCH = int(os.environ.get("NEWSFLOW_CLUSTER_BATCH", "30"))       # articles per scenario
PACE_S = float(os.environ.get("NEWSFLOW_CLUSTER_PACE", "25"))    # ... submitted evenly over this
SCENARIOS = 3
FOLLOWERS_BEHIND_S = 4.0
WARM = 4


@dataclass
class Pipeline:
    env: dict
    settings: Settings
    services: Services
    site: ArticleSite
    cluster: dict
    used: int = 0                                  # articles of the site already submitted
    log: list = field(default_factory=list)

    def note(self, what: str) -> None:
        self.log.append((time.strftime("%H:%M:%S", time.gmtime()), what))
        print(f"  cluster {self.log[-1][0]}Z {what}", flush=True)


@pytest.fixture(scope="module")
def pipeline(cluster):
    """The four stages as services on the cluster, under their own topic prefix and alias,
    started once for the module's scenarios (each scenario submits its own batch)."""
    run = uuid.uuid4().hex[:8]
    values = {"NEWSFLOW_KAFKA": cluster["kafka"], "NEWSFLOW_ELASTICSEARCH": cluster["es"],
              "NEWSFLOW_KAFKA_REPLICATION_FACTOR": "3", "NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS": "2",
              "NEWSFLOW_ES_REPLICAS": "1", "NEWSFLOW_TOPIC_PREFIX": f"clp{run}.",
              "NEWSFLOW_INDEX_ALIAS": f"clp{run}-articles", "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
              "NEWSFLOW_VAR": str(cluster["var"].parent / "services"), "NEWSFLOW_LOG_LEVEL": "info",
              "NEWSFLOW_INDEX_BATCH_SECONDS": "0.3", "NEWSFLOW_INDEX_MAX_BACKOFF": "2",
              "NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8", "NEWSFLOW_FETCH_HOST_DELAY": "0",
              "NEWSFLOW_FETCH_HOST_CONCURRENCY": "8"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in values.items():
            mp.setenv(name, value)
        settings = Settings()
        env = {**os.environ}
        asyncio.run(ensure_topics(settings))
        log_dir = REPO / ".var" / "logs" / f"cluster-{run}"
        services = Services(env, log_dir)
        with ArticleSite(BATCH * SCENARIOS + WARM) as site:
            try:
                for stage in STAGES:
                    services.start(stage)
                wait_until(lambda: all(stage_healthy(settings, s) for s in STAGES), 600, "all stages healthy", interval=1)
                # Warm: models loaded, the index created, every group settled, before any scenario.
                warm = site.article_urls()[-WARM:]
                asyncio.run(_submit(settings, warm, 0, {"sent": 0}))
                # (a cold first parse can overrun its time limit on a loaded machine and be
                # dead-lettered: the warm-up only wants the pipeline through, and at rest)
                zero_lag_reads = []

                def warmed() -> bool:
                    lags = _lags(settings)
                    zero_lag_reads.append("error" not in lags and not any(lags.values()))
                    return _found(settings, [article_id(u) for u in warm]) >= 1 and zero_lag_reads[-2:] == [True, True]

                wait_until(warmed, 600, "the warm-up articles through the pipeline", interval=2)
                yield Pipeline(env, settings, services, site, cluster)
            finally:
                services.stop_all()
                client = _es(settings)
                try:
                    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
                    client.options(ignore_status=404).indices.delete_index_template(name=template_name(settings))
                finally:
                    client.close()


def _es(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_hosts, request_timeout=30, retry_on_timeout=True, max_retries=3)


def _found(settings: Settings, ids: list[str]) -> int:
    """How many of these articles are searchable (0 while the index is not there or not ready)."""
    client = _es(settings)
    try:
        client.options(ignore_status=(404, 503)).indices.refresh(index=settings.index_alias)
        found = client.options(ignore_status=(404, 503)).count(index=settings.index_alias, query={"ids": {"values": ids}})
        return found.get("count", 0)
    except Exception:  # noqa: BLE001 - a node going down answers nothing for a moment
        return 0
    finally:
        client.close()


def _writes(settings: Settings) -> int:
    """Operations Elasticsearch sequenced on the alias's indices: max_seq_no + 1 of each primary
    shard. Every write of a document takes one sequence number, kept with the shard's data, so
    the figure survives node restarts and a replica's promotion (the indexing counters do not)."""
    client = _es(settings)
    try:
        if not client.indices.exists_alias(name=settings.index_alias):
            return 0                                 # before the first document
        health = client.cluster.health(index=settings.index_alias, wait_for_status="green", timeout="180s")
        assert health["status"] == "green", health
        stats = client.indices.stats(index=settings.index_alias, level="shards", metric="indexing")
        total = 0
        for index in stats["indices"].values():
            for copies in index["shards"].values():
                primary = [c for c in copies if c["routing"]["primary"]]
                assert len(primary) == 1, copies
                total += primary[0]["seq_no"]["max_seq_no"] + 1
        return total
    finally:
        client.close()


def _documents(settings: Settings) -> int:
    client = _es(settings)
    try:
        if not client.indices.exists_alias(name=settings.index_alias):
            return 0
        client.indices.refresh(index=settings.index_alias)
        return client.count(index=settings.index_alias)["count"]
    finally:
        client.close()


def _lags(settings: Settings) -> dict:
    try:
        status = asyncio.run(pipeline_status(settings, STAGE_INPUTS))
    except Exception as exc:  # noqa: BLE001 - a broker may be coming back
        return {"error": repr(exc)}
    return {f"{s['stage']}:{s['topic']}": s["lag"] for s in status["stages"]}


async def _partitions(settings: Settings) -> dict[tuple[str, int], dict]:
    """(topic, partition) -> {leader, replicas, isr} of every topic of the run (faust's too)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {(t["topic"], p["partition"]): {"leader": p["leader"], "replicas": p["replicas"], "isr": p["isr"]}
            for t in described for p in t["partitions"]}


def _leader(settings: Settings, topic: str, partition: int) -> int | None:
    try:
        return asyncio.run(_partitions(settings))[(topic, partition)]["leader"]
    except Exception:  # noqa: BLE001 - asked of the broker just stopped
        return None


def _all_in_sync(settings: Settings) -> bool:
    try:
        parts = asyncio.run(_partitions(settings))
    except Exception:  # noqa: BLE001 - a broker may be coming back
        return False
    return bool(parts) and all(len(p["replicas"]) == 3 and len(p["isr"]) == 3 and p["leader"] >= 0
                               for p in parts.values())


async def _submit(settings: Settings, urls: list[str], over_s: float, progress: dict) -> None:
    """At a steady pace over `over_s`; while a broker is away a send that fails is tried again,
    the same event through a new producer."""
    events = [make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                         {"url": url, "source": "cluster-test", "requested_at": utc_now()}, "cluster-test") for url in urls]
    while progress["sent"] < len(events):
        try:
            async with producer(settings) as send:
                while progress["sent"] < len(events):
                    event = events[progress["sent"]]
                    await asyncio.wait_for(send(settings.topic("news.fetch.requests"), event["id"].encode(),
                                                encode(event, "news.fetch.request/1")), 60)
                    progress["sent"] += 1
                    await asyncio.sleep(over_s / len(events))
        except Exception:  # noqa: BLE001 - wait a moment, then go on with a new producer
            await asyncio.sleep(1)


def _scenario(p: Pipeline, fault, pace_s: float = PACE_S) -> dict:
    """Submits the next batch at a steady pace and, once its first articles are indexed and
    more are still being submitted, runs `fault`; then checks nothing was lost, nothing lags,
    every partition is back in sync and every article was written once."""
    urls = p.site.article_urls()[p.used:p.used + BATCH]
    p.used += BATCH
    ids = [article_id(u) for u in urls]
    writes_before, documents_before = _writes(p.settings), _documents(p.settings)
    progress = {"sent": 0}
    submitter = threading.Thread(target=lambda: asyncio.run(_submit(p.settings, urls, pace_s, progress)), daemon=True)
    submitter.start()
    wait_until(lambda: _found(p.settings, ids) >= 2, 240, "the batch's first articles indexed", interval=0.5)
    mid_flow = {"submitted": progress["sent"], "indexed": _found(p.settings, ids)}
    p.note(f"fault mid-flow: {mid_flow}")
    assert mid_flow["submitted"] < BATCH, "the fault must come while articles are still being submitted"
    fault(p, ids)
    submitter.join(600)
    assert not submitter.is_alive(), "the submission did not finish"
    # Until every article is there, or the pipeline has finished without some (every group at
    # lag 0 on two reads in a row: a stage commits only after its output is safe), to fail fast.
    zero_lag_reads = []

    def finished() -> bool:
        if _found(p.settings, ids) == BATCH:
            return True
        lags = _lags(p.settings)
        zero_lag_reads.append("error" not in lags and not any(lags.values()))
        return zero_lag_reads[-2:] == [True, True]

    wait_until(finished, 900, f"all {BATCH} articles indexed, or the pipeline finished", interval=2)
    wait_until(lambda: _all_in_sync(p.settings), 300, "every partition on 3 brokers, all in sync", interval=2)
    lags = wait_until(lambda: (l := _lags(p.settings)) and "error" not in l and not any(l.values()) and l, 300,
                      "every consumer group caught up", interval=2)
    found = _found(p.settings, ids)
    assert found == BATCH, f"{BATCH - found} of {BATCH} articles lost"
    writes, documents = _writes(p.settings) - writes_before, _documents(p.settings) - documents_before
    p.note(f"done: {documents} documents, {writes} writes, lags {lags}")
    assert documents == BATCH, f"{documents} new documents for {BATCH} articles"
    assert _found(p.settings, ids) == BATCH
    assert writes == BATCH, f"{writes} writes for {BATCH} articles: {writes - BATCH} written more than once"
    return {"mid_flow": mid_flow, "writes": writes}


def _broker_of(p: Pipeline, node: int) -> Path:
    return p.cluster["var"] / f"kafka-{node}" / "kafka.pid"


def _busiest_leader(p: Pipeline, before: dict) -> tuple[str, int, int]:
    """(topic, partition, leader) of the partition that took the most messages since `before`."""
    topics = [p.settings.topic(t) for t in ("news.fetch.requests", "news.raw", "news.parsed", "news.enriched")]
    now = asyncio.run(end_offsets(p.settings, topics))
    busiest = max(now, key=lambda tp: now[tp] - before.get(tp, 0))
    leader = asyncio.run(_partitions(p.settings))[(busiest.topic, busiest.partition)]["leader"]
    return busiest.topic, busiest.partition, leader


def test_pipeline_survives_the_leader_of_a_busy_partition_killed(pipeline):
    topics = [pipeline.settings.topic(t) for t in ("news.fetch.requests", "news.raw", "news.parsed", "news.enriched")]
    before = asyncio.run(end_offsets(pipeline.settings, topics))

    def kill_leader(p: Pipeline, ids: list[str]) -> None:
        # The leader dies while its followers lag: they are frozen (SIGSTOP) for FOLLOWERS_BEHIND_S
        # first, as slow followers would be, so whatever the leader acknowledged alone in that
        # time dies with it. acks=all with min.insync 2 acknowledges nothing a follower lacks.
        topic, partition, leader = _busiest_leader(p, before)
        followers = [r for r in asyncio.run(_partitions(p.settings))[(topic, partition)]["replicas"] if r != leader]
        frozen = [int(_broker_of(p, f).read_text()) for f in followers]
        try:
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            p.note(f"followers {followers} of {topic}[{partition}] frozen")
            time.sleep(FOLLOWERS_BEHIND_S)   # the length of the fault, not a wait for a condition
            os.kill(int(_broker_of(p, leader).read_text()), signal.SIGKILL)
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        p.note(f"SIGKILL broker {leader}, leader of {topic}[{partition}]; followers resumed")
        new = wait_until(lambda: (l := _leader(p.settings, topic, partition)) not in (None, leader, -1) and l,
                         120, "a new leader elected", interval=1)
        p.note(f"broker {new} leads {topic}[{partition}]")
        indexed = _found(p.settings, ids)
        wait_until(lambda: _found(p.settings, ids) >= min(BATCH, indexed + 3), 300,
                   "articles indexed with a broker down", interval=1)
        p.cluster["up"]()
        p.note(f"broker {leader} started again")

    _scenario(pipeline, kill_leader)


def test_pipeline_survives_an_elasticsearch_node_stopped(pipeline):
    def stop_node(p: Pipeline, ids: list[str]) -> None:
        stop(p.cluster["var"] / "es-2" / "es.pid")
        p.note("elasticsearch node 2 stopped")
        indexed = _found(p.settings, ids)
        wait_until(lambda: _found(p.settings, ids) >= min(BATCH, indexed + 3), 300,
                   "articles indexed with one node", interval=1)
        p.cluster["up"]()
        p.note("elasticsearch node 2 started again")

    _scenario(pipeline, stop_node)


def test_pipeline_survives_a_rolling_restart_of_all_brokers(pipeline):
    def rolling_restart(p: Pipeline, ids: list[str]) -> None:
        for node in (1, 2, 3):
            stop(_broker_of(p, node))
            p.note(f"broker {node} stopped")
            p.cluster["up"]()
            wait_until(lambda: _all_in_sync(p.settings), 300, f"broker {node} back, every partition in sync", interval=1)
            p.note(f"broker {node} back in sync")

    _scenario(pipeline, rolling_restart, pace_s=4 * PACE_S)   # articles flow through all three restarts
