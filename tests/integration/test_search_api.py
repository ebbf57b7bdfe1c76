"""The search API against the real index: filters, sorting, deep pagination, similar
articles, validation, the API key, and the web page in headless Chromium."""

import subprocess

import httpx
import pytest
from elasticsearch import helpers

from .conftest import REPO, wait_until, _ok
from .helpers import chromium_page, es, indexed, submit
from .ports import listen_port

pytestmark = pytest.mark.integration

PAGES = ("mark-zuckerbergs-seltsame-aktionen.html", "berlin-tram-extension.html", "river-cleanup-volunteers.html",
         "chip-startup-funding.html", "stadtfest-programm.html")
SCREENSHOT = REPO / ".var" / "screenshots" / "search-page.png"


@pytest.fixture(scope="module")
def api(services, settings, sample_site):
    ids = submit([f"{sample_site}/{page}?search=1" for page in PAGES])
    for article_id in ids:
        wait_until(lambda: indexed(settings, article_id), 120, f"article {article_id}")
    client = es(settings)
    try:
        client.indices.refresh(index=settings.index_alias)  # found by id is not yet found by search
    finally:
        client.close()
    return f"http://127.0.0.1:{settings.search_port}", ids


def get(url, **params):
    return httpx.get(url, params=params, timeout=10)


def test_filters_narrow_and_facets_count(api):
    base, _ = api
    everything = get(f"{base}/search", q="search").json()  # no such word: only filters below
    assert everything["total"] == 0
    german = get(f"{base}/search", language="de").json()
    english = get(f"{base}/search", language="en").json()
    assert german["total"] >= 3 and english["total"] >= 2
    assert all(hit["language"] == "de" for hit in german["hits"])
    assert {b["value"] for b in german["facets"]["language"]} == {"de"}
    june = get(f"{base}/search", **{"from": "2025-06-01", "to": "2025-06-30"}).json()
    assert june["total"] >= 3 and all(hit["published"].startswith("2025-06") for hit in june["hits"])
    assert sum(point["count"] for point in june["facets"]["over_time"]) == june["total"]


def test_sort_by_date_is_newest_first(api):
    base, _ = api
    hits = get(f"{base}/search", sort="date", size=50).json()["hits"]
    dates = [hit["published"] for hit in hits if hit["published"]]
    assert dates == sorted(dates, reverse=True) and len(dates) >= 5


def all_ids(settings) -> set[str]:
    """Every searchable document: articles taken down (other tests make some) are hidden from search."""
    client = es(settings)
    try:
        client.indices.refresh(index=settings.index_alias)
        query = {"_source": False, "query": {"bool": {"must_not": [{"term": {"removed": True}}]}}}
        return {hit["_id"] for hit in helpers.scan(client, index=settings.index_alias, query=query)}
    finally:
        client.close()


def test_cursor_pages_through_everything_once(api, settings):
    base, _ = api
    # Stragglers of earlier tests may still arrive while we page: every document there
    # before the first page must be seen, nothing seen twice, nothing seen that never existed.
    before = all_ids(settings)
    seen, cursor = [], None
    while True:
        page = get(f"{base}/search", size=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [hit["id"] for hit in page["hits"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    after = all_ids(settings)
    assert len(seen) == len(set(seen))
    assert before <= set(seen) <= after


def test_semantic_search_finds_by_meaning_and_hybrid_keeps_the_keyword_winner(api):
    base, ids = api
    # no word of the query is in the chip start-up article's title; its meaning is
    semantic = get(f"{base}/search", q="company designing low-power hardware for machine learning", mode="semantic").json()
    assert semantic["hits"] and semantic["hits"][0]["title"].startswith("Chip start-up raises")
    hybrid = get(f"{base}/search", q="Zuckerberg Talente", mode="hybrid").json()
    # other tests index the same page under other URLs: any copy of it may rank first
    assert "mark-zuckerbergs-seltsame-aktionen" in hybrid["hits"][0]["url"]
    assert get(f"{base}/search", mode="semantic").status_code == 422  # nothing to embed


def test_similar_articles_exclude_the_article_itself(api):
    base, ids = api
    result = get(f"{base}/articles/{ids[0]}/similar", size=5).json()
    assert ids[0] not in [hit["id"] for hit in result["hits"]]
    assert get(f"{base}/articles/{'f' * 32}/similar").status_code == 404


@pytest.mark.parametrize("params, reason", [
    ({"size": 0}, "size"), ({"size": 1000}, "size"), ({"offset": -1}, "offset"), ({"sort": "random"}, "sort"),
    ({"language": "DE"}, "language"), ({"cursor": "not-a-cursor"}, "cursor"),
    ({"from": "2025-13-01"}, "from"), ({"from": "2025-06-02", "to": "2025-06-01"}, "from"),
    ({"q": "x" * 501}, "q"),
])
def test_bad_parameters_get_422_with_the_reason(api, params, reason):
    response = get(f"{api[0]}/search", **params)
    assert response.status_code == 422 and reason in response.text


def test_query_syntax_never_reaches_elasticsearch_raw(api):
    base, _ = api
    for q in ['{"match_all": {}}', "title:(x OR y)", "a AND (b", "*", '"unclosed']:
        response = get(f"{base}/search", q=q)
        assert response.status_code == 200, q


def test_openapi_documents_the_endpoints(api):
    paths = get(f"{api[0]}/openapi.json").json()["paths"]
    assert {"/search", "/articles/{article_id}", "/articles/{article_id}/similar", "/health"} <= set(paths)


def test_api_key_protects_everything_but_health(test_env, api):
    port = listen_port()
    env = {**test_env, "NEWSFLOW_API_KEY": "s3cret", "NEWSFLOW_SEARCH_PORT": str(port)}
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "newsflow"), "serve", "search"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ok(f"{base}/health"), 30, "keyed search API")
        assert get(f"{base}/search", q="Zuckerberg").status_code == 401
        assert httpx.get(f"{base}/search", params={"q": "x"}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(f"{base}/search", params={"q": "Zuckerberg"}, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert get(f"{base}/articles/{api[1][0]}").status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)


def test_web_page_searches_highlights_and_charts_in_chromium(api):
    base, _ = api
    with chromium_page(1200, 800) as page:
        page.goto(f"{base}/")
        page.wait_for_selector(".hit")  # the page opens on every article, newest first
        page.fill("#q", "Zuckerberg Talente")
        page.click("button[type=submit]")
        page.wait_for_selector(".hit mark")  # only a text query highlights
        assert page.locator(".hit h2").first.inner_text() == "Mark Zuckerbergs seltsame Aktionen"
        assert page.locator(".hit mark").count() >= 1
        assert page.locator("#bars rect").count() >= 1
        assert "de" in page.locator("#facets").inner_text()
        page.click("#facets a:text-is('de')")  # a facet click filters
        page.wait_for_function("location.search.includes('language=de')")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
