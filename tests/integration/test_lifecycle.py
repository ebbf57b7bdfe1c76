"""An article's life through the real pipeline and a local test site: fetched, refetched on
schedule with conditional GETs (304), corrected (the document is updated and keeps first_seen,
counts revisions), then taken down (410): hidden from search unless include_removed=true, and a
replay of its older version cannot bring it back.

The pipeline here is a set of its own (topic prefix, alias, ports) whose fetch service refetches
on a schedule of seconds; the site answers by script, and the test flips it to "gone" only once
the correction is indexed, so the order of events never depends on timing."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest

from newsflow.core.ids import article_id
from newsflow.core.kafka import committed_offsets, end_offsets, group_id
from newsflow.core.settings import Settings
from newsflow.core.topics import ensure_topics

from .conftest import REPO, SAMPLES, Services, wait_until
from .helpers import es, indexed, read_topic, refresh_alias, run_stem, send_raw
from .ports import listen_port, web_port_base

pytestmark = pytest.mark.integration

TEMPLATE = (SAMPLES / "river-cleanup-volunteers.html").read_text(encoding="utf-8")
FIRST, CORRECTED = "Quenbrixholm", "Vintarolsund"  # words only one version of the page has


def version(word: str) -> bytes:
    anchor = "<p>Organisers said"
    return TEMPLATE.replace(anchor, f"<p>The volunteers met at {word} bridge.</p>\n{anchor}", 1).encode()


class ScriptedSite:
    """One article page: version 1, then (from its third request on) the corrected version 2,
    both with an ETag honoured by If-None-Match; 410 once `gone` is set. Every request is
    logged as (If-None-Match sent, status answered)."""

    def __init__(self):
        self.gone, self.log, self.lock = False, [], threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if not self.path.startswith("/story"):
                    self.send_response(404)
                    self.end_headers()
                    return
                with site.lock:
                    n = sum(1 for _ in site.log) + 1
                    sent = self.headers.get("If-None-Match")
                    if site.gone:
                        status, body, etag = 410, b"gone", None
                    else:
                        body, etag = (version(FIRST), '"v1"') if n < 3 else (version(CORRECTED), '"v2"')
                        status = 304 if sent == etag else 200
                    site.log.append((sent, status))
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                if status == 200 or status == 410:
                    self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200 else "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/story-{uuid.uuid4().hex[:6]}.html"

    def statuses(self) -> list[int]:
        with self.lock:
            return [status for _, status in self.log]


@pytest.fixture(scope="module")
def pipeline(stack):
    stem = run_stem("lc")
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_PREFIX": f"{stem}.",
        "NEWSFLOW_INDEX_ALIAS": f"{stem}-articles",
        "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
        "NEWSFLOW_SEARCH_PORT": str(listen_port()),
        "NEWSFLOW_VAR": f"/tmp/newsflow-{stem}",
        "NEWSFLOW_LOG_LEVEL": "info",
        "NEWSFLOW_INDEX_BATCH_SECONDS": "0.3",
        "NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_HOST_DELAY": "0",
        "NEWSFLOW_ENRICH_EMBEDDING": "0",  # not needed here; spares a model load
        # Refetch after 2 s, 4 s, then every few seconds: the last ones find the page gone.
        "NEWSFLOW_FETCH_REFETCH_SCHEDULE": ",".join(f"{s}s" for s in (2, 4, *range(8, 400, 4))),
        "NEWSFLOW_FETCH_REFETCH_CHECK": "0.5",
    }
    settings = Settings().replace(topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"], index_alias=env["NEWSFLOW_INDEX_ALIAS"],
                                  search_port=int(env["NEWSFLOW_SEARCH_PORT"]),
                                  web_port_base=int(env["NEWSFLOW_WEB_PORT_BASE"]))
    asyncio.run(ensure_topics(settings))
    services = Services(env, REPO / ".var" / "logs" / f"test-{stem}")
    for name in ("fetch", "parse", "enrich", "index", "search"):
        services.start(name)
    try:
        services.wait_ready(settings)
        yield settings
    finally:
        services.stop_all()
        client = es(settings)
        client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
        client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
        client.close()
        shutil.rmtree(env["NEWSFLOW_VAR"], ignore_errors=True)


def submit(settings: Settings, url: str) -> str:
    from newsflow.core.envelope import encode, make_event, utc_now
    from newsflow.core.ids import new_trace_id

    event = make_event("news.fetch.request/1", article_id(url), new_trace_id(), {"url": url, "source": "test",
                                                                                   "requested_at": utc_now()}, "test")
    send_raw(settings, "news.fetch.requests", [encode(event, "news.fetch.request/1")], key=event["id"].encode())
    return event["id"]


def search(settings: Settings, **params) -> dict:
    response = httpx.get(f"http://127.0.0.1:{settings.search_port}/search", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def index_settled(settings: Settings) -> bool:
    async def go():
        topics = [settings.topic("news.enriched"), settings.topic("news.removed")]
        ends = {tp: end for tp, end in (await end_offsets(settings, topics)).items() if end}
        committed = await committed_offsets(settings, group_id("index", settings))
        return all(committed.get(tp, 0) >= end for tp, end in ends.items())

    return asyncio.run(go())


def test_an_article_is_refetched_corrected_and_taken_down(pipeline):
    settings = pipeline
    site = ScriptedSite()
    article = submit(settings, site.url)

    # fetched, then refetched with If-None-Match: 304, then the corrected page
    first = wait_until(lambda: indexed(settings, article), 180, "the article indexed")
    if FIRST in first["text"]:  # (both versions may reach the index stage in one batch)
        assert first["revisions"] == 1 and first["first_seen"] == first["updated_at"] == first["fetched_at"]
    corrected = wait_until(lambda: (doc := indexed(settings, article)) and CORRECTED in doc["text"] and doc, 180,
                           "the corrected version indexed")
    fetched = [e["payload"]["fetched_at"] for e in read_topic(settings, "news.raw") if e.get("id") == article]
    assert len(fetched) == 2, "a 304 emits nothing: two pages fetched, two events"
    assert corrected["revisions"] == 2 and corrected["first_seen"] == fetched[0]
    assert corrected["updated_at"] == corrected["fetched_at"] == fetched[1]
    assert site.log[:3] == [(None, 200), ('"v1"', 304), ('"v1"', 200)]  # conditional GETs, a 304 costs nothing
    refresh_alias(settings)
    assert [hit["id"] for hit in search(settings, q=CORRECTED)["hits"]] == [article]
    assert search(settings, q=FIRST)["total"] == 0

    # taken down: the next refetch gets 410
    site.gone = True
    wait_until(lambda: (doc := indexed(settings, article)) and doc.get("removed"), 180, "the document marked removed")
    removals = [e for e in read_topic(settings, "news.removed") if e.get("id") == article]
    assert [e["payload"]["status"] for e in removals] == [410]
    assert not [e for e in read_topic(settings, "news.dlq") if e.get("id") == article], "a takedown is no dead letter"
    refresh_alias(settings)
    assert search(settings, q=CORRECTED)["total"] == 0
    shown = search(settings, q=CORRECTED, include_removed="true")["hits"]
    assert [hit["id"] for hit in shown] == [article] and shown[0]["removed"] is True and shown[0]["revisions"] == 2

    # a replay of the older versions cannot bring it back
    enriched = [e for e in read_topic(settings, "news.enriched") if e.get("id") == article]
    assert len(enriched) == 2
    send_raw(settings, "news.enriched", [orjson.dumps(e) for e in enriched], key=article.encode())
    wait_until(lambda: index_settled(settings), 120, "the index stage to take the replay")
    doc = indexed(settings, article)
    assert doc["removed"] is True and CORRECTED in doc["text"] and doc["revisions"] == 2
    refresh_alias(settings)
    assert search(settings, q=CORRECTED)["total"] == 0
    assert site.statuses().count(410) == 1, "once removed, not refetched again"
