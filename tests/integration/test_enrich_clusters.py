"""Near-duplicates through the real enrich service: the seed page and a differently laid out
copy of its text at another URL share a cluster (by MinHash, through the near-duplicate claims);
an unrelated article does not; the seed also carries every enrichment field."""

from __future__ import annotations

import pytest

from newsflow.core.envelope import encode, make_event
from newsflow.core.ids import article_id

from ..unit.test_enrich_clusters import COPY_URL, SEED_URL, relaid_copy, seed, unrelated_article
from .conftest import wait_until
from .helpers import read_topic, send_raw

pytestmark = pytest.mark.integration


def parsed(url: str, article: dict) -> dict:
    payload = {**article, "url": url, "final_url": url, "fetched_at": "2025-06-25T10:00:00Z"}
    return make_event("news.parsed/1", article_id(url), "c" * 32, payload, "parse")


def test_seed_and_its_relaid_copy_share_a_cluster_through_the_service(services, settings):
    from newsflow.parse.extract import extract_article

    original = seed()
    copy = {**extract_article(relaid_copy(original).encode(), COPY_URL), "original_url": None}
    other_url = "http://127.0.0.1:8765/unrelated"
    events = [parsed(SEED_URL, {**original, "original_url": None}), parsed(COPY_URL, copy), parsed(other_url, unrelated_article())]
    for event in events:
        send_raw(settings, "news.parsed", [encode(event, "news.parsed/1")], key=event["id"].encode())

    wanted = {e["id"] for e in events}

    def enriched():
        found = {e["id"]: e for e in read_topic(settings, "news.enriched", timeout_s=1.0) if e.get("id") in wanted}
        return found if len(found) == len(wanted) else None

    found = wait_until(enriched, 180, "three enriched articles")
    cluster = {e["payload"]["url"]: e["payload"]["enrichment"]["cluster_id"] for e in found.values()}
    # (Named after whichever copy of the story the session's claims saw first: other
    # tests ingest the sample pages too.)
    assert cluster[SEED_URL] == cluster[COPY_URL]
    assert cluster[other_url] != cluster[SEED_URL]

    seed_enrichment = found[article_id(SEED_URL)]["payload"]["enrichment"]
    assert len(seed_enrichment["entities"]["persons"]) >= 9, seed_enrichment["errors"]
    assert len(seed_enrichment["embedding"]) == 384
