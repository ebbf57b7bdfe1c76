"""A malformed event on each input topic lands on news.dlq with a reason, and the next good
event on that topic still flows to Elasticsearch."""

import pytest

from newsflow.core.envelope import encode
from newsflow.core.settings import Settings
from newsflow.enrich.stage import enrich
from newsflow.fetch.fetcher import FetchedPage, raw_event
from newsflow.parse.stage import parse

from .conftest import SAMPLES, wait_until
from .helpers import indexed, read_topic, send_raw, submit

pytestmark = pytest.mark.integration


def _raw(url: str, page: str) -> dict:
    request = {"payload": {"url": url, "source": "test"}, "trace_id": "e" * 32}
    fetched = FetchedPage(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                          body=(SAMPLES / page).read_bytes(), fetched_at="2025-07-01T00:00:00.000Z", elapsed_ms=1.0)
    return raw_event(request, fetched, Settings())


def test_malformed_events_are_dead_lettered_and_good_ones_still_flow(services, settings, sample_site):
    junk = [b"{this is not json", b'{"schema": "news.raw/9", "id": 1}']
    good = {}
    for topic, schema in (("news.raw", "news.raw/1"), ("news.parsed", "news.parsed/1"), ("news.enriched", "news.enriched/1")):
        raw = _raw(f"{sample_site}/river-cleanup-volunteers.html?via={topic}", "river-cleanup-volunteers.html")
        event = {"news.raw": lambda: raw, "news.parsed": lambda: parse(raw), "news.enriched": lambda: enrich(parse(raw))}[topic]()
        send_raw(settings, topic, [*junk, encode(event, schema)], key=event["id"].encode())
        good[topic] = event["id"]
    send_raw(settings, "news.fetch.requests", junk)
    good["news.fetch.requests"] = submit([f"{sample_site}/stadtfest-programm.html?via=requests"])[0]

    for topic, article_id in good.items():
        wait_until(lambda: indexed(settings, article_id), 120, f"the good event after junk on {topic}")

    def all_letters():
        ours = [e for e in read_topic(settings, "news.dlq") if e["payload"]["original"] in {j.decode() for j in junk}]
        return ours if len(ours) >= 2 * len(good) else None

    found = wait_until(all_letters, 60, "dead letters")
    by_topic = {}
    for letter in found:
        by_topic.setdefault(letter["payload"]["topic"], []).append(letter["payload"])
    assert set(by_topic) == {settings.topic(t) for t in good}
    for topic, payloads in by_topic.items():
        assert len(payloads) == 2, topic
        assert all(p["error"] == "InvalidEvent" and p["reason"] for p in payloads)
        assert any("not JSON" in p["reason"] for p in payloads)
        assert any("expected schema" in p["reason"] for p in payloads)
