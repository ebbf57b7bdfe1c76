"""Reprocessing history: a replay of news.raw with a new parser version reaches every document,
and a reindex into the next physical index swaps the alias while searches keep answering."""

import asyncio
import threading

import httpx
import pytest

from newsflow.replay.reindex import reindex
from newsflow.replay.runner import replay

from .conftest import wait_until
from .helpers import es, indexed, submit

pytestmark = pytest.mark.integration

PAGES = ("berlin-tram-extension.html", "chip-startup-funding.html", "stadtfest-programm.html",
         "mark-zuckerbergs-seltsame-aktionen.html")


class SearchProbe(threading.Thread):
    """Searches the API in a loop and records every answer that was empty or failed."""

    def __init__(self, api: str, query: str):
        super().__init__(daemon=True)
        self.api, self.query, self.failures, self.answers = api, query, [], 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                response = httpx.get(f"{self.api}/search", params={"q": self.query}, timeout=5)
                if response.status_code != 200 or response.json()["total"] == 0:
                    self.failures.append(response.text[:200])
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            self.answers += 1

    def stop(self):
        self.stopped.set()
        self.join(10)


@pytest.fixture(scope="module")
def ingested(services, settings, sample_site):
    ids = submit([f"{sample_site}/{page}?replay=1" for page in PAGES])
    for article_id in ids:
        wait_until(lambda: indexed(settings, article_id), 120, f"article {article_id}")
    client = es(settings)
    client.indices.refresh(index=settings.index_alias)  # a get is real-time, a search waits for a refresh
    client.close()
    return ids


def test_replaying_raw_with_a_new_parser_version_updates_every_document(ingested, settings, monkeypatch):
    import newsflow.parse.stage as parse_stage

    new_version = parse_stage.PARSER_VERSION + "+replay-test"
    monkeypatch.setattr(parse_stage, "PARSER_VERSION", new_version)
    probe = SearchProbe(f"http://127.0.0.1:{settings.search_port}", "Zuckerberg")
    probe.start()
    try:
        report = asyncio.run(replay("news.raw", settings, show_progress=False))
        assert report.read >= len(ingested) and report.written >= len(ingested)
        for article_id in ingested:
            wait_until(lambda: (indexed(settings, article_id) or {}).get("parser_version") == new_version, 120,
                       f"article {article_id} reparsed with {new_version}")
    finally:
        probe.stop()
    assert probe.answers > 0 and probe.failures == []


def test_reindex_builds_the_next_index_and_swaps_the_alias_without_downtime(ingested, settings):
    client = es(settings)
    before = client.count(index=settings.index_alias)["count"]
    old = next(iter(client.indices.get_alias(name=settings.index_alias)))
    probe = SearchProbe(f"http://127.0.0.1:{settings.search_port}", "Zuckerberg")
    probe.start()
    try:
        report = asyncio.run(reindex(settings, "news.enriched", show_progress=False))
    finally:
        probe.stop()
    aliases = client.indices.get_alias(name=settings.index_alias)
    assert list(aliases) == [report.new_index] and report.new_index != old
    assert client.indices.exists(index=old), "the old index is kept until deleted on purpose"
    client.indices.refresh(index=report.new_index)
    client.indices.refresh(index=old)
    # Everything the old index had is in the new one (the pipeline may still add more meanwhile).
    assert client.count(index=settings.index_alias)["count"] >= before
    old_ids = {h["_id"] for h in client.search(index=old, size=1000, source=False)["hits"]["hits"]}
    new_ids = {h["_id"] for h in client.search(index=report.new_index, size=1000, source=False)["hits"]["hits"]}
    assert old_ids <= new_ids
    assert all(indexed(settings, article_id) for article_id in ingested)
    assert probe.answers > 0 and probe.failures == []
    client.close()


def test_reindex_from_raw_reruns_the_stages_and_settles_clusters_as_the_service_does(ingested, settings, sample_site):
    # A second copy of one page at another URL: the pipeline clusters the two together, and a
    # reindex from news.raw must too (enrich() alone gives each its own provisional cluster).
    copy_id = submit([f"{sample_site}/{PAGES[0]}?replay=copy"])[0]
    wait_until(lambda: indexed(settings, copy_id), 120, f"article {copy_id}")
    client = es(settings)
    report = asyncio.run(reindex(settings, "news.raw", show_progress=False))
    client.indices.refresh(index=report.new_index)
    rebuilt = {h["_id"]: h["_source"] for h in client.search(index=report.new_index, size=1000)["hits"]["hits"]}
    # (documents other tests wrote straight to news.enriched or news.parsed have no page to rebuild from)
    assert {*ingested, copy_id} <= set(rebuilt)
    assert not client.indices.exists_alias(name=f"{settings.index_alias}-reindex"), "the building alias is removed"
    first, copy = rebuilt[ingested[0]], rebuilt[copy_id]
    assert first["title"] == copy["title"]
    assert first["enrichment"]["cluster_id"] == copy["enrichment"]["cluster_id"]
    # the other pages are other stories: clusters of their own
    others = {rebuilt[i]["enrichment"]["cluster_id"] for i in ingested[1:]}
    assert len(others) == len(PAGES) - 1 and first["enrichment"]["cluster_id"] not in others
    client.close()


def test_reindex_applies_takedowns_so_the_rebuilt_index_hides_what_the_live_one_hides(ingested, settings):
    from newsflow.core.envelope import encode, make_event, utc_now
    from newsflow.core.ids import new_trace_id

    from .helpers import send_raw

    gone = ingested[1]
    url = indexed(settings, gone)["url"]
    takedown = make_event("news.removed/1", gone, new_trace_id(), {"url": url, "status": 410, "removed_at": utc_now()}, "test")
    send_raw(settings, "news.removed", [encode(takedown, "news.removed/1")], key=gone.encode())
    wait_until(lambda: (indexed(settings, gone) or {}).get("removed"), 120, "the live index marks the takedown")
    report = asyncio.run(reindex(settings, "news.enriched", show_progress=False))
    client = es(settings)
    rebuilt = client.get(index=report.new_index, id=gone)["_source"]
    client.close()
    assert rebuilt.get("removed"), "the rebuilt index shows a taken-down article again"
    assert not indexed(settings, ingested[2]).get("removed")
