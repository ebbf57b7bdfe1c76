"""The pipeline under fire: `make test-chaos` runs it in full, `make test` a shorter version
(NEWSFLOW_CHAOS_ARTICLES=300, NEWSFLOW_CHAOS_KILLS=1, NEWSFLOW_CHAOS_ES_OUTAGE=10).

A generated site of NEWSFLOW_CHAOS_ARTICLES (2,000) article pages plus a few pages built to fail
is ingested, submitted at a steady pace, with every stage at concurrency 2, while every stage
is SIGKILLed with messages in flight (NEWSFLOW_CHAOS_KILLS, 3 times each) and restarted, the
Kafka broker is restarted once, the NER server is killed twice and Elasticsearch is
unreachable for NEWSFLOW_CHAOS_ES_OUTAGE (30) s. Afterwards: every article is in Elasticsearch
(count and ids) with its entities, no consumer group lags, news.dlq holds exactly one dead
letter per page built to fail, and the duplicate writes (documents written more than once,
from the index stage's own counts) are reported.

Runs against a private Kafka broker (infra/stack.sh on CHAOS_KAFKA_PORT, own NEWSFLOW_VAR) and
a private CoreNLP server (CHAOS_CORENLP_PORT), so the shared ones are never restarted;
Elasticsearch is the shared server behind a TCP proxy that the test cuts, under its own alias.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from newsflow.stages import STAGE_INPUTS, WEB_PORT_OFFSETS
from newsflow.core.envelope import encode, make_event, utc_now
from newsflow.core.ids import article_id, new_trace_id
from newsflow.core.kafka import pipeline_status, producer
from newsflow.core.settings import Settings
from newsflow.core.topics import ensure_topics

from ..articlesite import ArticleSite
from ..integration.conftest import REPO, STAGES, Services, stack as shared_stack, wait_until  # noqa: F401 - fixture
from ..integration.helpers import read_topic, stage_healthy
from ..integration.ports import web_port_base
from ..integration.test_index_stage import TcpProxy

ARTICLES = int(os.environ.get("NEWSFLOW_CHAOS_ARTICLES", "2000"))
FAILING = int(os.environ.get("NEWSFLOW_CHAOS_FAILING", "20"))
KILLS_EACH = int(os.environ.get("NEWSFLOW_CHAOS_KILLS", "3"))
ES_OUTAGE_S = float(os.environ.get("NEWSFLOW_CHAOS_ES_OUTAGE", "30"))
KAFKA_ENV = {"NEWSFLOW_VAR": os.environ.get("CHAOS_VAR", "/tmp/chaos-var"),
             "KAFKA_PORT": os.environ.get("CHAOS_KAFKA_PORT", "29092"),
             "KAFKA_CONTROLLER_PORT": os.environ.get("CHAOS_KAFKA_CONTROLLER_PORT", "29093"),
             "CORENLP_PORT": os.environ.get("CHAOS_CORENLP_PORT", "29000")}
NER_KILLS = 2


def stack(*args: str) -> None:
    subprocess.run([str(REPO / "infra" / "stack.sh"), *args], env={**os.environ, **KAFKA_ENV}, check=True)


def corenlp(*args: str) -> None:
    subprocess.run([str(REPO / "infra" / "corenlp" / "corenlp.sh"), *args], env={**os.environ, **KAFKA_ENV}, check=True)


def corenlp_kill() -> None:
    """SIGKILL the private NER server and wait until its port is closed (a killed process may
    linger as a zombie, which `corenlp.sh up` would take for a running server)."""
    pid_file = Path(KAFKA_ENV["NEWSFLOW_VAR"]) / "corenlp" / "corenlp.pid"
    os.kill(int(pid_file.read_text()), signal.SIGKILL)

    def closed() -> bool:
        try:
            socket.create_connection(("127.0.0.1", int(KAFKA_ENV["CORENLP_PORT"])), timeout=1).close()
            return False
        except OSError:
            return True

    wait_until(closed, 30, "the NER server's port closed")
    pid_file.unlink()


@pytest.fixture(scope="module")
def chaos_env(shared_stack):
    stack("up", "kafka")
    corenlp("up")
    shared = Settings()  # the shared Elasticsearch, reached only through the proxy below
    proxy = TcpProxy(int(shared.elasticsearch_url.rsplit(":", 1)[1]))
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "NEWSFLOW_VAR": KAFKA_ENV["NEWSFLOW_VAR"],
        "NEWSFLOW_KAFKA": f"127.0.0.1:{KAFKA_ENV['KAFKA_PORT']}",
        "NEWSFLOW_ELASTICSEARCH": f"http://127.0.0.1:{proxy.port}",
        "NEWSFLOW_TOPIC_PREFIX": f"chaos{run}.",
        "NEWSFLOW_INDEX_ALIAS": f"chaos{run}-articles",
        "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
        "NEWSFLOW_LOG_LEVEL": "info",
        "NEWSFLOW_INDEX_BATCH_SECONDS": "0.5",
        "NEWSFLOW_INDEX_MAX_BACKOFF": "2",
        "NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_HOST_DELAY": "0",
        "NEWSFLOW_FETCH_HOST_CONCURRENCY": "8",
        "NEWSFLOW_CORENLP_URL": f"http://127.0.0.1:{KAFKA_ENV['CORENLP_PORT']}",
        # every stage at concurrency 2: messages finish out of order within a partition
        "NEWSFLOW_FETCH_CONCURRENCY": "2",
        "NEWSFLOW_PARSE_CONCURRENCY": "2",
        "NEWSFLOW_ENRICH_CONCURRENCY": "2",
        "NEWSFLOW_INDEX_CONCURRENCY": "2",
    }
    settings = Settings().replace(kafka_bootstrap=env["NEWSFLOW_KAFKA"], topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"],
                                  index_alias=env["NEWSFLOW_INDEX_ALIAS"], web_port_base=int(env["NEWSFLOW_WEB_PORT_BASE"]))
    asyncio.run(ensure_topics(settings))
    yield env, settings, proxy
    client = Elasticsearch(shared.elasticsearch_url, request_timeout=30)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
    # the fetch and enrich stages' state (services/core/state_index.py)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-state-urls,{settings.index_alias}-state-clusters")
    client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
    client.close()
    corenlp("down")
    if not os.environ.get("CHAOS_KEEP_KAFKA"):
        stack("down", "kafka")


async def _submit(settings: Settings, urls: list[str], over_s: float, hurry: threading.Event) -> None:
    """At a steady pace over `over_s`, so every stage has work in flight whenever a kill comes,
    and the rest at once when `hurry` is set (the kills are over). The broker restarts
    meanwhile: a send that fails is tried again, the same event through a new producer."""
    events = [make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                         {"url": url, "source": "chaos", "requested_at": utc_now()}, "chaos") for url in urls]
    sent = 0
    while sent < len(events):
        try:
            async with producer(settings) as send:
                while sent < len(events):
                    event = events[sent]
                    await asyncio.wait_for(send(settings.topic("news.fetch.requests"), event["id"].encode(),
                                                encode(event, "news.fetch.request/1")), 30)
                    sent += 1
                    if not hurry.is_set():
                        await asyncio.sleep(over_s / len(events))
        except Exception:  # noqa: BLE001 - wait for the broker, then go on with a new producer
            await asyncio.sleep(1)


def _indexed(settings: Settings, es_url: str) -> dict[str, dict]:
    """Document id -> its enrichment's entities and errors."""
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        client.options(ignore_status=(404, 503)).indices.refresh(index=settings.index_alias)
        found = client.options(ignore_status=(404, 503)).search(
            index=settings.index_alias, query={"match_all": {}}, size=10_000, track_total_hits=True,
            source_includes=["enrichment.entities", "enrichment.errors"])
        return {hit["_id"]: hit["_source"].get("enrichment", {}) for hit in found.get("hits", {}).get("hits", [])}
    finally:
        client.close()


def _in_flight(settings: Settings, stage: str) -> float:
    """The stage's messages begun and not finished, from its /metrics (0 when it does not answer)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    found = re.search(rf'^newsflow_in_flight{{stage="{stage}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def _dependency_waits(log_dir: Path) -> int:
    """Times the enrich service put an article off because the NER server was down (its log is
    appended to across restarts)."""
    try:
        return (log_dir / "enrich.log").read_bytes().count(b'"dependency unavailable: waiting')
    except FileNotFoundError:
        return 0


def _documents_written(settings: Settings, es_url: str) -> int:
    """Document writes Elasticsearch took into the alias's indices (its own indexing count on
    the primaries): each article once, plus every duplicate write."""
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        stats = client.indices.stats(index=settings.index_alias, metric="indexing")
        return stats["_all"]["primaries"]["indexing"]["index_total"]
    finally:
        client.close()


def _lags(settings: Settings) -> dict:
    try:
        status = asyncio.run(pipeline_status(settings, STAGE_INPUTS))
    except Exception as exc:  # noqa: BLE001 - the broker may still be coming back
        return {"error": repr(exc)}
    return {f"{s['stage']}:{s['topic']}": s["lag"] for s in status["stages"]}


class Chaos:
    """Kills each stage KILLS_EACH times at random moments, restarts the broker once and cuts
    Elasticsearch for 30 s, all while the pipeline runs; records what it did and when."""

    def __init__(self, services: Services, proxy: TcpProxy, settings: Settings, log_dir: Path, seed: int):
        self.services, self.proxy, self.settings, self.rng = services, proxy, settings, random.Random(seed)
        self.log_dir, self.ner_waits_seen = log_dir, 0
        self.kills, self.log, self.t0 = Counter(), [], time.monotonic()
        self.hits_in_flight = Counter()  # kills that hit the stage with messages in flight

    def note(self, what: str) -> None:
        # wall-clock time too, to line the timeline up with the services' logs
        self.log.append((round(time.monotonic() - self.t0, 1), time.strftime("%H:%M:%S", time.gmtime()), what))
        print(f"  chaos t+{self.log[-1][0]:>6}s {self.log[-1][1]}Z {what}", flush=True)

    def es_outage(self, seconds: float = ES_OUTAGE_S) -> None:
        self.note("elasticsearch cut")
        self.proxy.cut()
        time.sleep(seconds)
        self.proxy.restore()
        self.note("elasticsearch back")

    def broker_restart(self) -> None:
        self.note("kafka down")
        stack("down", "kafka")
        time.sleep(3)
        stack("up", "kafka")
        self.note("kafka up")

    def ner_restarts(self) -> None:
        """The NER server SIGKILLed NER_KILLS times while enrich has articles in flight, and
        started again only once enrich has felt it (waited for it: its log says so)."""
        for n in range(NER_KILLS):
            if n:
                time.sleep(self.rng.uniform(3, 8))
            deadline = time.monotonic() + 120
            while _in_flight(self.settings, "enrich") <= 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            waits_before = _dependency_waits(self.log_dir)
            corenlp_kill()
            self.note(f"NER server SIGKILL ({n + 1})")
            try:
                wait_until(lambda: _dependency_waits(self.log_dir) > waits_before, 120, "enrich waiting for the NER server")
                self.ner_waits_seen += 1
            finally:
                corenlp("up")
                self.note("NER server up")

    def run(self) -> None:
        victims = [s for s in STAGES for _ in range(KILLS_EACH)]
        self.rng.shuffle(victims)
        background = []
        for i, victim in enumerate(victims):
            time.sleep(self.rng.uniform(2, 9))
            # Kill when the stage has messages in flight (waiting a little for some if need be).
            deadline = time.monotonic() + 120
            while (in_flight := _in_flight(self.settings, victim)) <= 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.services.kill(victim)  # right after the scrape that saw messages in flight
            self.kills[victim] += 1
            self.hits_in_flight[victim] += in_flight > 0
            self.note(f"SIGKILL {victim} ({self.kills[victim]}) with {in_flight:g} in flight")
            time.sleep(self.rng.uniform(0.2, 3))
            self.services.start(victim)
            self.note(f"restarted {victim}")
            if i == len(victims) // 3:
                self.broker_restart()
            if i == len(victims) // 2:
                background.append(threading.Thread(target=self.es_outage, daemon=True))
                background[-1].start()
            if i == len(victims) // 4:
                background.append(threading.Thread(target=self.ner_restarts, daemon=True))
                background[-1].start()
        for thread in background:
            thread.join()


def test_nothing_lost_duplicated_or_stuck_under_chaos(chaos_env):
    env, settings, proxy = chaos_env
    log_dir = REPO / ".var" / "logs" / f"chaos-{settings.topic_prefix.rstrip('.')}"
    services = Services(env, log_dir)
    with ArticleSite(ARTICLES, failing=FAILING) as site:
        articles, failing = site.article_urls(), site.failing_urls()
        urls = articles + failing
        random.Random(1).shuffle(urls)
        try:
            for stage in STAGES:
                services.start(stage)
            wait_until(lambda: all(stage_healthy(settings, s) for s in STAGES), 90, "all stages healthy")
            started = time.monotonic()
            # Submitted over longer than the kills take, so each kill finds work in flight; the
            # rest goes at once when they are over.
            pace_s = KILLS_EACH * len(STAGES) * 20.0 + 60
            kills_over = threading.Event()
            submitter = threading.Thread(target=lambda: asyncio.run(_submit(settings, urls, pace_s, kills_over)), daemon=True)
            submitter.start()
            chaos = Chaos(services, proxy, settings, log_dir, seed=int(time.time()))
            chaos.run()
            kills_over.set()
            submitter.join()
            assert all(chaos.kills[s] >= KILLS_EACH for s in STAGES)

            es_url = env["NEWSFLOW_ELASTICSEARCH"]
            failing_ids = {article_id(u) for u in failing}

            def indexed_or_lost() -> bool:
                # an article dead-lettered is never indexed: say so now rather than after the deadline
                lost = [e for e in read_topic(settings, "news.dlq", timeout_s=1) if e["id"] not in failing_ids]
                assert not lost, f"articles dead-lettered: {[(e['payload']['stage'], e['payload']['reason'][:80]) for e in lost]}"
                return len(_indexed(settings, es_url)) >= ARTICLES

            wait_until(indexed_or_lost, 1800, f"{ARTICLES} articles indexed", interval=5)
            took = time.monotonic() - started
            lags = wait_until(lambda: (l := _lags(settings)) and "error" not in l and not any(l.values()) and l, 120,
                              "every consumer group caught up", interval=2)
            time.sleep(5)  # a duplicate or a late dead letter, if one were coming, has time to land
            documents = _indexed(settings, es_url)
            ids = list(documents)
            letters = [e for e in read_topic(settings, "news.dlq", timeout_s=3)]
            assert all(stage_healthy(settings, s) for s in STAGES)
        finally:
            services.stop_all()

    expected = {article_id(u) for u in articles}
    assert len(ids) == ARTICLES, f"{len(ids)} documents for {ARTICLES} articles"
    assert set(ids) == expected
    # Every article carries its entities: none emptied while the NER server was down.
    emptied = {i: d.get("errors", {}).get("entities") for i, d in documents.items() if "entities" in d.get("errors", {})}
    assert not emptied, f"{len(emptied)} documents without entities: {list(emptied.values())[:3]}"
    # (an emptied field always says why; and every generated page names people, firms or places)
    bare = [i for i, d in documents.items() if not any(d["entities"].values())]
    assert not bare, f"{len(bare)} documents with no entity at all"
    # One dead letter per page built to fail, compared as a multiset, so a page failed twice
    # shows. A kill between a dead letter's acknowledgement and its offset's commit sends the
    # same input's dead letter again (at-least-once): those repeats name the same input
    # position, and are counted apart, as duplicate writes are.
    by_input = {(e["payload"]["topic"], e["payload"]["partition"], e["payload"]["offset"]): e for e in letters}
    letter_ids = Counter(e["id"] for e in by_input.values())
    assert letter_ids == Counter(article_id(u) for u in failing), {e["payload"]["reason"][:80] for e in letters}
    assert all(chaos.hits_in_flight[s] == chaos.kills[s] for s in STAGES), f"kills with nothing in flight: {chaos.log}"
    assert chaos.ner_waits_seen == NER_KILLS
    written = _documents_written(settings, es_url)
    reasons = Counter(e["payload"]["error"] for e in letters)
    summary = {"articles_in": ARTICLES, "documents_out": len(ids), "documents_written": written,
               "duplicate_writes": written - len(ids),
               "dead_letters": len(letters), "dead_letter_repeats_of_one_input": len(letters) - len(by_input),
               "dead_letter_pages": len(letter_ids), "built_to_fail": len(failing),
               "dead_letter_errors": dict(reasons), "kills": dict(chaos.kills),
               "kills_with_messages_in_flight": dict(chaos.hits_in_flight), "ner_kills": NER_KILLS,
               "ner_outages_felt_by_enrich": chaos.ner_waits_seen, "enrich_waits_for_ner": _dependency_waits(log_dir),
               "lags": lags, "seconds": round(took, 1)}
    print("\nchaos:", orjson.dumps(summary).decode())
    (REPO / ".var" / "chaos-last.json").write_bytes(orjson.dumps({**summary, "timeline": chaos.log}, option=orjson.OPT_INDENT_2))
