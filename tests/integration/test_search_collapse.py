"""collapse=cluster against the real pipeline: copies of one page at several URLs go through
fetch, parse, enrich (which puts them in one near-duplicate cluster) and index; a collapsed
search shows the story once with "n other copies", pages through every cluster once, and its
facets stay correct.

"Correct" facets, as the API defines them: a facet bucket's `count` is the number of matching
*articles* with that value, collapsed or not (so the counts match `total` and what a filter
click returns); a collapsed search adds `clusters` to each bucket, the number of distinct
stories among those articles, and `clusters` at the top, the number of collapsed hits."""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest
from elasticsearch import helpers

from newsflow.search.query import FACETS, SearchRequest, search_body

from .conftest import REPO, wait_until
from .helpers import chromium_page, es, indexed, submit

pytestmark = pytest.mark.integration

STORY = "berlin-tram-extension.html"
OTHER = "river-cleanup-volunteers.html"
QUERY = "Straßenbahn river"  # matches both stories (and the copies other tests index)
SCREENSHOT = REPO / ".var" / "screenshots" / "search-collapsed.png"


@pytest.fixture(scope="module")
def copies(services, settings, sample_site):
    urls = [f"{sample_site}/{STORY}?copy={n}" for n in (1, 2, 3)] + [f"{sample_site}/{OTHER}?copy=1"]
    ids = submit(urls)
    docs = [wait_until(lambda i=i: indexed(settings, i), 180, f"article {i}") for i in ids]
    story_clusters = {doc["cluster_id"] for doc in docs[:3]}
    assert len(story_clusters) == 1, "three copies of one page are one cluster"
    assert docs[3]["cluster_id"] not in story_clusters
    client = es(settings)
    try:
        client.indices.refresh(index=settings.index_alias)  # searchable now, not within a second
    finally:
        client.close()
    return f"http://127.0.0.1:{settings.search_port}", ids, story_clusters.pop()


def get(url, **params):
    response = httpx.get(url, params=params, timeout=20)
    assert response.status_code == 200, response.text
    return response.json()


def matching_docs(settings, q: str) -> list[dict]:
    """Every article the search matches, read straight from Elasticsearch with the API's query."""
    client = es(settings)
    try:
        client.indices.refresh(index=settings.index_alias)
        query = search_body(SearchRequest(q=q))["query"]
        body = {"query": query, "_source": ["id", "cluster_id", "published", *FACETS.values()]}
        return [hit["_source"] for hit in helpers.scan(client, index=settings.index_alias, query=body)]
    finally:
        client.close()


def expected_facets(docs: list[dict]) -> dict[str, dict[str, tuple[int, int]]]:
    """facet -> value -> (articles, distinct clusters), counted by hand."""
    articles, clusters = defaultdict(lambda: defaultdict(int)), defaultdict(lambda: defaultdict(set))
    for doc in docs:
        for name, field in FACETS.items():
            value = doc
            for part in field.split("."):
                value = value.get(part, {}) if isinstance(value, dict) else {}
            for v in value if isinstance(value, list) else ([value] if isinstance(value, str) else []):
                articles[name][v] += 1
                clusters[name][v].add(doc["cluster_id"])
    return {name: {v: (n, len(clusters[name][v])) for v, n in values.items()} for name, values in articles.items()}


def test_a_collapsed_search_shows_each_story_once_with_its_other_copies(copies):
    base, ids, cluster = copies
    result = get(f"{base}/search", q=QUERY, collapse="cluster", size=100)
    heads = [hit["cluster_id"] for hit in result["hits"]]
    assert len(heads) == len(set(heads)), "one hit per cluster"
    story = next(hit for hit in result["hits"] if hit["cluster_id"] == cluster)
    members = get(f"{base}/search", q=QUERY, cluster=cluster, size=100)
    assert set(ids[:3]) <= {hit["id"] for hit in members["hits"]}
    assert story["copies"]["count"] == members["total"] - 1 >= 2
    assert all(c["url"] and c["id"] != story["id"] and c["id"] in {h["id"] for h in members["hits"]}
               for c in story["copies"]["hits"])
    assert result["clusters"] == len(result["hits"]) < result["total"]
    uncollapsed = get(f"{base}/search", q=QUERY, size=100)
    assert "copies" not in uncollapsed["hits"][0] and "clusters" not in uncollapsed


def test_facets_count_articles_and_clusters_whether_collapsed_or_not(copies, settings):
    base, _, _ = copies

    def consistent():
        # Stragglers of other tests may land between two reads: compare once nothing moved.
        docs = matching_docs(settings, QUERY)
        collapsed = get(f"{base}/search", q=QUERY, collapse="cluster")
        plain = get(f"{base}/search", q=QUERY)
        again = matching_docs(settings, QUERY)
        if {d["id"] for d in docs} != {d["id"] for d in again}:
            return None
        return docs, collapsed, plain

    docs, collapsed, plain = wait_until(consistent, 120, "a quiet index")
    assert collapsed["total"] == plain["total"] == len(docs)
    assert collapsed["clusters"] == len({d["cluster_id"] for d in docs})
    expected = expected_facets(docs)
    for name in FACETS:
        for bucket in collapsed["facets"][name]:
            assert (bucket["count"], bucket["clusters"]) == expected[name][bucket["value"]], (name, bucket)
        assert [(b["value"], b["count"]) for b in collapsed["facets"][name]] == \
               [(b["value"], b["count"]) for b in plain["facets"][name]]
    assert sum(p["count"] for p in collapsed["facets"]["over_time"]) == sum(1 for d in docs if d.get("published"))


def test_collapsed_pages_visit_every_cluster_once(copies):
    base, _, _ = copies
    seen, offset = [], 0
    while offset is not None:
        page = get(f"{base}/search", q=QUERY, collapse="cluster", size=1, offset=offset)
        seen += [hit["cluster_id"] for hit in page["hits"]]
        offset = page["next_offset"]
        assert page["next_cursor"] is None
    assert len(seen) == len(set(seen)) and len(seen) >= 2


def test_semantic_search_collapses_too(copies):
    base, _, cluster = copies
    result = get(f"{base}/search", q="Berlin extends its tram line to the main station", mode="semantic", collapse="cluster")
    heads = [hit["cluster_id"] for hit in result["hits"]]
    assert cluster in heads and len(heads) == len(set(heads))


@pytest.mark.parametrize("params", [{"collapse": "site"}, {"collapse": "cluster", "cursor": "eyJhIjoxfQ=="}])
def test_bad_collapse_parameters_get_422(copies, params):
    response = httpx.get(f"{copies[0]}/search", params=params, timeout=10)
    assert response.status_code == 422 and ("collapse" in response.text or "cursor" in response.text)


def test_search_page_folds_copies_by_default_in_chromium(copies):
    base, _, cluster = copies
    with chromium_page(1200, 900) as page:
        page.goto(f"{base}/?q=Stra%C3%9Fenbahn")
        page.wait_for_selector(".hit .copies summary")
        summary = page.locator(".hit .copies summary").first.inner_text()
        assert summary.split()[0].isdigit() and int(summary.split()[0]) >= 2 and "other copies" in summary
        assert "stories" in page.locator("#summary").inner_text()
        page.locator(".hit .copies summary").first.click()
        links = page.locator(".hit .copies li a")
        assert links.count() >= 2 and links.first.get_attribute("href").startswith("http")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        folded = page.locator(".hit").count()
        page.uncheck("#fold")  # unfolded: every copy is a hit of its own
        page.wait_for_function(f"document.querySelectorAll('.hit').length > {folded}")
        assert "collapse=none" in page.url and page.locator(".hit .copies").count() == 0
    assert SCREENSHOT.stat().st_size > 10_000
