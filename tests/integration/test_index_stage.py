"""The index stage against the real Kafka and Elasticsearch: a standalone index worker (its own
topic prefix and alias) reaches Elasticsearch through a TCP proxy the tests can cut.

Settled means the worker's committed offsets reached the topic's end: since offsets are
committed only after Elasticsearch acknowledged (or the event is on news.dlq), every event
sent before is then in its final place."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from newsflow.core.envelope import encode, make_event
from newsflow.core.ids import new_trace_id
from newsflow.core.kafka import committed_offsets, end_offsets, group_id
from newsflow.core.settings import Settings
from newsflow.core.topics import ensure_topics

from .conftest import REPO, ServiceProcess, wait_until
from .helpers import es, read_topic, run_stem, send_raw
from .ports import listen_port, web_port_base

pytestmark = pytest.mark.integration

SCHEMA = "news.enriched/1"
T0 = datetime(2025, 6, 24, 10, 0, tzinfo=timezone.utc)


class TcpProxy:
    """127.0.0.1:port -> the target, until cut: then connections are refused and open ones
    dropped, as when Elasticsearch is down."""

    def __init__(self, target_port: int):
        self.target_port, self.port = target_port, listen_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        # shutdown() wakes the accept() blocked on it; close() alone would let it accept once more.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture(scope="module")
def index_stage(stack):
    stem = run_stem("idx")
    real = Settings()
    proxy = TcpProxy(int(real.elasticsearch_url.rsplit(":", 1)[1]))
    web_base = web_port_base()
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_PREFIX": f"{stem}.",
        "NEWSFLOW_INDEX_ALIAS": f"{stem}-articles",
        "NEWSFLOW_ELASTICSEARCH": f"http://127.0.0.1:{proxy.port}",
        "NEWSFLOW_WEB_PORT_BASE": str(web_base),
        "NEWSFLOW_INDEX_BATCH_SECONDS": "1.0",
        "NEWSFLOW_INDEX_MAX_BACKOFF": "2",
        "NEWSFLOW_LOG_LEVEL": "info",
    }
    settings = real.replace(topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"], index_alias=env["NEWSFLOW_INDEX_ALIAS"])
    asyncio.run(ensure_topics(settings))
    log_dir = REPO / ".var" / "logs" / f"test-{stem}"
    log_dir.mkdir(parents=True, exist_ok=True)
    worker = ServiceProcess("index", env, log_dir / "index.log")
    worker.start()
    yield settings, worker, proxy
    worker.stop()
    client = es(real)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
    client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
    client.close()


def event(article_id: str, fetched: datetime, text: str, **payload) -> bytes:
    body = {"url": f"https://news.example/{article_id}", "final_url": f"https://news.example/{article_id}",
            "site": "news.example", "title": f"Artikel {article_id[:6]}", "text": text,
            "fetched_at": fetched.isoformat().replace("+00:00", "Z"), "parser_version": "test", "page_type": "article",
            "language": "de", "enrichment": {"version": "test", "language": {"code": "de", "confidence": 0.99}}, **payload}
    return encode(make_event(SCHEMA, article_id, new_trace_id(), body, "test"), SCHEMA)


def new_id() -> str:
    return uuid.uuid4().hex


def send(settings: Settings, values: list[bytes], key: bytes = b"k") -> None:
    # One key: one partition, so the events arrive together (and in order).
    send_raw(settings, "news.enriched", values, key=key)


def committed(settings: Settings) -> dict:
    return asyncio.run(committed_offsets(settings, group_id("index", settings)))


def settled(settings: Settings, timeout_s: float = 60) -> None:
    topic = settings.topic("news.enriched")
    ends = {tp: end for tp, end in asyncio.run(end_offsets(settings, [topic])).items() if end}
    wait_until(lambda: all(committed(settings).get(tp, 0) >= end for tp, end in ends.items()), timeout_s,
               "the index worker to commit every event")


def stored(settings: Settings, article_id: str) -> dict | None:
    client = es(settings)
    try:
        found = client.options(ignore_status=404).get(index=settings.index_alias, id=article_id)
        return found.body if found.get("found") else None
    finally:
        client.close()


def test_an_older_replay_leaves_the_newer_document(index_stage):
    settings, _, _ = index_stage
    article = new_id()
    send(settings, [event(article, T0 + timedelta(hours=2), "Die neue Fassung.")])
    settled(settings)
    send(settings, [event(article, T0, "Die alte Fassung.")])
    settled(settings)
    doc = stored(settings, article)
    assert doc["_source"]["text"] == "Die neue Fassung."
    assert doc["_version"] == int((T0 + timedelta(hours=2)).timestamp() * 1000)


def test_an_identical_refetch_is_not_rewritten(index_stage):
    settings, _, _ = index_stage
    article = new_id()
    send(settings, [event(article, T0, "Gleicher Inhalt.")])
    settled(settings)
    before = stored(settings, article)
    send(settings, [event(article, T0 + timedelta(days=1), "Gleicher Inhalt."),   # refetched, same content
                    event(article, T0 + timedelta(days=2), "Gleicher Inhalt.")])
    settled(settings)
    after = stored(settings, article)
    assert (after["_seq_no"], after["_primary_term"], after["_version"]) == \
           (before["_seq_no"], before["_primary_term"], before["_version"])
    assert after["_source"]["indexed_at"] == before["_source"]["indexed_at"]
    # ...while changed content is written.
    send(settings, [event(article, T0 + timedelta(days=3), "Neuer Inhalt.")])
    settled(settings)
    assert stored(settings, article)["_source"]["text"] == "Neuer Inhalt."


def test_a_rejected_document_goes_to_the_dlq_and_its_batch_mates_are_indexed(index_stage):
    settings, worker, _ = index_stage
    good, bad = [new_id(), new_id()], new_id()
    # A 40 kB canonical URL is valid to the schema but no keyword field can hold it.
    send(settings, [event(good[0], T0, "Erster Artikel."), event(bad, T0, "Kaputt.", canonical_url="x" * 40_000),
                    event(good[1], T0, "Zweiter Artikel.")])
    settled(settings)
    assert all(stored(settings, a) for a in good)
    assert stored(settings, bad) is None
    letters = [e for e in read_topic(settings, "news.dlq") if e["id"] == bad]
    assert len(letters) == 1
    letter = letters[0]["payload"]
    assert letter["stage"] == "index" and letter["error"] == "RejectedByElasticsearch"
    assert "400" in letter["reason"] and "immense term" in letter["reason"], letter["reason"][:300]
    assert bad in letter["original"]
    # ...and the three were one batch.
    batches = [line for line in map(_json, worker.log_path.read_text(errors="replace").splitlines())
               if line.get("event") == "batch written"]
    assert any(b["written"] == 2 and b["rejected"] == 1 for b in batches), batches[-3:]


def test_a_written_document_is_searchable_without_the_periodic_refresh(index_stage):
    """The stage refreshes the alias after a write (services/index/refresh.py): with
    Elasticsearch's own periodic refresh switched off, a search still finds the document."""
    settings, _, _ = index_stage
    send(settings, [event(new_id(), T0, "Das Index-Layout steht.")])  # the alias and its index exist
    settled(settings)
    client = es(settings)
    try:
        client.indices.put_settings(index=settings.index_alias, settings={"index": {"refresh_interval": "-1"}})
        client.indices.refresh(index=settings.index_alias)
        article = new_id()
        send(settings, [event(article, T0, "Sofort auffindbar.")])
        settled(settings)

        def searchable() -> bool:
            found = client.search(index=settings.index_alias, query={"ids": {"values": [article]}}, size=0,
                                  track_total_hits=True)
            return found["hits"]["total"]["value"] == 1

        wait_until(searchable, 60, "the document to be searchable with the periodic refresh off")
    finally:
        client.indices.put_settings(index=settings.index_alias, settings={"index": {"refresh_interval": None}})
        client.close()


def test_an_elasticsearch_outage_of_30s_loses_nothing(index_stage):
    settings, worker, proxy = index_stage
    articles = [new_id() for _ in range(60)]
    send(settings, [event(a, T0, f"Artikel Nummer {n}.") for n, a in enumerate(articles[:20])], key=None)
    settled(settings)
    proxy.cut()
    cut_at = time.monotonic()
    try:
        # Ingestion goes on while Elasticsearch is away...
        for chunk in (articles[20:40], articles[40:50]):
            send(settings, [event(a, T0, f"Artikel Nummer {articles.index(a)}.") for a in chunk], key=None)
            time.sleep(3)
        # ...and the worker is restarted meanwhile: a batch it was retrying must not be acked on stop.
        worker.stop()
        worker.start()
        send(settings, [event(a, T0, f"Artikel Nummer {articles.index(a)}.") for a in articles[50:]], key=None)
        time.sleep(max(0.0, 30 - (time.monotonic() - cut_at)))
        # Nothing was committed that Elasticsearch does not have.
        assert_committed_events_are_indexed(settings)
    finally:
        proxy.restore()
    settled(settings, timeout_s=90)
    client = es(settings)
    try:
        client.indices.refresh(index=settings.index_alias)
        found = client.search(index=settings.index_alias, query={"ids": {"values": articles}}, size=0, track_total_hits=True)
    finally:
        client.close()
    assert found["hits"]["total"]["value"] == len(articles)
    assert not [e for e in read_topic(settings, "news.dlq") if e["id"] in set(articles)]


def assert_committed_events_are_indexed(settings: Settings) -> None:
    """Reads every event below the committed offsets and looks it up directly (not through
    the cut proxy)."""
    offsets = committed(settings)

    async def below_committed() -> list[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        ids = []
        try:
            for tp, stop in offsets.items():
                consumer.assign([tp])
                await consumer.seek_to_beginning(tp)
                deadline = time.monotonic() + 30
                while (await consumer.position(tp)) < stop and time.monotonic() < deadline:
                    for records in (await consumer.getmany(tp, timeout_ms=2000)).values():
                        ids += [orjson.loads(r.value)["id"] for r in records if r.offset < stop]
        finally:
            await consumer.stop()
        return ids

    dead = {e["id"] for e in read_topic(settings, "news.dlq")}
    ids = [i for i in asyncio.run(below_committed()) if i not in dead]
    client = es(settings)
    try:
        docs = client.mget(index=settings.index_alias, ids=ids, source=False)["docs"] if ids else []
    finally:
        client.close()
    missing = [d["_id"] for d in docs if not d.get("found")]
    assert not missing, f"committed but not indexed: {missing[:5]}"


def _json(line: str) -> dict:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
