"""The seed page travels URL -> news.raw -> news.parsed -> news.enriched -> Elasticsearch through
the real services, and is found through the search API."""

import httpx
import pytest

from .conftest import wait_until
from .helpers import indexed, read_topic, submit

pytestmark = pytest.mark.integration

SEED = "mark-zuckerbergs-seltsame-aktionen.html"


def test_seed_article_goes_from_url_to_search_hit(services, settings, sample_site):
    urls = [f"{sample_site}/{name}" for name in (SEED, "berlin-tram-extension.html", "chip-startup-funding.html")]
    ids = submit(urls)
    for article_id in ids:
        wait_until(lambda: indexed(settings, article_id), 120, f"article {article_id} in Elasticsearch")

    # Every stage's topic carried the seed, under one trace id.
    seed_id = ids[0]
    traces = {}
    for topic in ("news.fetch.requests", "news.raw", "news.parsed", "news.enriched"):
        events = [e for e in read_topic(settings, topic) if e.get("id") == seed_id]  # other tests put id-less junk there
        assert events, f"seed article missing on {topic}"
        traces[topic] = events[0]["trace_id"]
    assert len(set(traces.values())) == 1, traces

    api = f"http://127.0.0.1:{settings.search_port}"
    result = httpx.get(f"{api}/search", params={"q": "Zuckerberg Talente", "size": 50}, timeout=10).json()
    assert result["total"] >= 1
    # Other tests of the session index the same page under other URLs (?search=1, ...): those
    # copies score the same, so the first hit is one of them, and ours is among the hits.
    assert result["hits"][0]["title"] == "Mark Zuckerbergs seltsame Aktionen"
    top = next((hit for hit in result["hits"] if hit["id"] == seed_id), None)
    assert top is not None, [hit["url"] for hit in result["hits"]]
    assert top["title"] == "Mark Zuckerbergs seltsame Aktionen"
    assert top["published"].startswith("2025-06-24")
    assert top["language"] == "de"
    assert top["url"] == urls[0]
    assert any("<mark>" in fragment for fragments in top["highlight"].values() for fragment in fragments)
    assert sum(bucket["count"] for bucket in result["facets"]["language"]) == result["total"]
    assert result["facets"]["language"][0]["value"] == "de"

    article = httpx.get(f"{api}/articles/{seed_id}", timeout=10).json()
    assert "Um Meta im KI-Wettlauf auf den neuesten Stand zu bringen" in article["text"]
    assert article["enrichment"]["language"]["code"] == "de"
    assert httpx.get(f"{api}/articles/{'0' * 32}", timeout=10).status_code == 404
    assert httpx.get(f"{api}/articles/not-an-id", timeout=10).status_code == 422
    assert httpx.get(f"{api}/search", params={"q": "x" * 501}, timeout=10).status_code == 422
