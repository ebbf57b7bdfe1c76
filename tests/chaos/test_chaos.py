"""The pipeline under fire: `make test-chaos` runs it in full, `make test` a shorter version
(NEWSFLOW_CHAOS_ARTICLES=300, NEWSFLOW_CHAOS_KILLS=1, NEWSFLOW_CHAOS_ES_OUTAGE=10).

A generated site of NEWSFLOW_CHAOS_ARTICLES (2,000) article pages plus a few pages built to fail
is ingested while every stage is SIGKILLed at random moments (NEWSFLOW_CHAOS_KILLS, 3 times
each) and restarted, the Kafka broker is restarted once and Elasticsearch is unreachable for
NEWSFLOW_CHAOS_ES_OUTAGE (30) s. Afterwards: every
article is in Elasticsearch exactly once (count and ids), no consumer group lags, and news.dlq
holds exactly the pages built to fail.

Runs against a private Kafka broker (infra/stack.sh on CHAOS_KAFKA_PORT, own NEWSFLOW_VAR) so
the shared one is never restarted; Elasticsearch is the shared server behind a TCP proxy that
the test cuts, under its own index alias.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter

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
from ..integration.conftest import REPO, STAGES, Services, free_port, stack as shared_stack, wait_until  # noqa: F401 - fixture
from ..integration.helpers import read_topic
from ..integration.test_index_stage import TcpProxy

ARTICLES = int(os.environ.get("NEWSFLOW_CHAOS_ARTICLES", "2000"))
FAILING = int(os.environ.get("NEWSFLOW_CHAOS_FAILING", "20"))
KILLS_EACH = int(os.environ.get("NEWSFLOW_CHAOS_KILLS", "3"))
ES_OUTAGE_S = float(os.environ.get("NEWSFLOW_CHAOS_ES_OUTAGE", "30"))
KAFKA_ENV = {"NEWSFLOW_VAR": os.environ.get("CHAOS_VAR", "/tmp/chaos-var"),
             "KAFKA_PORT": os.environ.get("CHAOS_KAFKA_PORT", "29092"),
             "KAFKA_CONTROLLER_PORT": os.environ.get("CHAOS_KAFKA_CONTROLLER_PORT", "29093")}


def stack(*args: str) -> None:
    subprocess.run([str(REPO / "infra" / "stack.sh"), *args], env={**os.environ, **KAFKA_ENV}, check=True)


@pytest.fixture(scope="module")
def chaos_env(shared_stack):
    stack("up", "kafka")
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
        "NEWSFLOW_WEB_PORT_BASE": str(free_port() + 10),
        "NEWSFLOW_LOG_LEVEL": "info",
        "NEWSFLOW_INDEX_BATCH_SECONDS": "0.5",
        "NEWSFLOW_INDEX_MAX_BACKOFF": "2",
        "NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_HOST_DELAY": "0",
        "NEWSFLOW_FETCH_HOST_CONCURRENCY": "8",
    }
    settings = Settings().replace(kafka_bootstrap=env["NEWSFLOW_KAFKA"], topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"],
                                  index_alias=env["NEWSFLOW_INDEX_ALIAS"], web_port_base=int(env["NEWSFLOW_WEB_PORT_BASE"]))
    asyncio.run(ensure_topics(settings))
    yield env, settings, proxy
    client = Elasticsearch(shared.elasticsearch_url, request_timeout=30)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
    client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
    client.close()
    if not os.environ.get("CHAOS_KEEP_KAFKA"):
        stack("down", "kafka")


async def _submit(settings: Settings, urls: list[str]) -> None:
    async with producer(settings) as send:
        for url in urls:
            event = make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                               {"url": url, "source": "chaos", "requested_at": utc_now()}, "chaos")
            await send(settings.topic("news.fetch.requests"), event["id"].encode(), encode(event, "news.fetch.request/1"))


def _indexed_ids(settings: Settings, es_url: str) -> list[str]:
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        client.options(ignore_status=(404, 503)).indices.refresh(index=settings.index_alias)
        found = client.options(ignore_status=(404, 503)).search(
            index=settings.index_alias, query={"match_all": {}}, source=False, size=10_000, track_total_hits=True)
        return [hit["_id"] for hit in found.get("hits", {}).get("hits", [])]
    finally:
        client.close()


def _healthy(settings: Settings, stage: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _lags(settings: Settings) -> dict:
    try:
        status = asyncio.run(pipeline_status(settings, STAGE_INPUTS))
    except Exception as exc:  # noqa: BLE001 - the broker may still be coming back
        return {"error": repr(exc)}
    return {f"{s['stage']}:{s['topic']}": s["lag"] for s in status["stages"]}


class Chaos:
    """Kills each stage KILLS_EACH times at random moments, restarts the broker once and cuts
    Elasticsearch for 30 s, all while the pipeline runs; records what it did and when."""

    def __init__(self, services: Services, proxy: TcpProxy, seed: int):
        self.services, self.proxy, self.rng = services, proxy, random.Random(seed)
        self.kills, self.log, self.t0 = Counter(), [], time.monotonic()

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

    def run(self) -> None:
        victims = [s for s in STAGES for _ in range(KILLS_EACH)]
        self.rng.shuffle(victims)
        outage = None
        for i, victim in enumerate(victims):
            time.sleep(self.rng.uniform(2, 9))
            self.services.kill(victim)
            self.kills[victim] += 1
            self.note(f"SIGKILL {victim} ({self.kills[victim]})")
            time.sleep(self.rng.uniform(0.2, 3))
            self.services.start(victim)
            self.note(f"restarted {victim}")
            if i == len(victims) // 3:
                self.broker_restart()
            if i == len(victims) // 2:
                outage = threading.Thread(target=self.es_outage, daemon=True)
                outage.start()
        if outage:
            outage.join()


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
            wait_until(lambda: all(_healthy(settings, s) for s in STAGES), 90, "all stages healthy")
            started = time.monotonic()
            asyncio.run(_submit(settings, urls))
            chaos = Chaos(services, proxy, seed=int(time.time()))
            chaos.run()
            assert all(chaos.kills[s] >= KILLS_EACH for s in STAGES)

            es_url = env["NEWSFLOW_ELASTICSEARCH"]
            wait_until(lambda: len(_indexed_ids(settings, es_url)) >= ARTICLES, 1800, f"{ARTICLES} articles indexed", interval=3)
            took = time.monotonic() - started
            lags = wait_until(lambda: (l := _lags(settings)) and "error" not in l and not any(l.values()) and l, 120,
                              "every consumer group caught up", interval=2)
            time.sleep(5)  # a duplicate or a late dead letter, if one were coming, has time to land
            ids = _indexed_ids(settings, es_url)
            letters = [e for e in read_topic(settings, "news.dlq", timeout_s=3)]
            assert all(_healthy(settings, s) for s in STAGES)
        finally:
            services.stop_all()

    expected = {article_id(u) for u in articles}
    assert len(ids) == len(set(ids)) == ARTICLES, f"{len(ids)} documents for {ARTICLES} articles"
    assert set(ids) == expected
    letter_ids = Counter(e["id"] for e in letters)
    assert set(letter_ids) == {article_id(u) for u in failing}, {e["payload"]["reason"][:80] for e in letters}
    reasons = Counter(e["payload"]["error"] for e in letters)
    summary = {"articles_in": ARTICLES, "documents_out": len(ids), "duplicates": len(ids) - len(set(ids)),
               "dead_letters": len(letters), "dead_letter_pages": len(letter_ids), "built_to_fail": len(failing),
               "dead_letter_errors": dict(reasons), "kills": dict(chaos.kills), "lags": lags, "seconds": round(took, 1)}
    print("\nchaos:", orjson.dumps(summary).decode())
    (REPO / ".var" / "chaos-last.json").write_bytes(orjson.dumps({**summary, "timeline": chaos.log}, option=orjson.OPT_INDENT_2))
