"""The fetcher against the local test site on 127.0.0.x, in-process (no Kafka): politeness,
robustness, safety and discovery over real HTTP."""

import asyncio
import time
from contextlib import asynccontextmanager

import pytest

from newsflow.core.envelope import make_event
from newsflow.core.ids import article_id
from newsflow.core.schemas import validate
from newsflow.core.settings import Settings
from newsflow.fetch.addresses import AddressRefused
from newsflow.fetch.client import Fetcher
from newsflow.fetch.content import BodyTooLarge
from newsflow.fetch.discovery import FEED, SITEMAP, discover
from newsflow.fetch.errors import FetchFailed, FetchRefused
from newsflow.fetch.fetcher import make_handler
from tests.fetchsite import FetchSite, article_html, gzip_bomb

pytestmark = pytest.mark.integration

SETTINGS = Settings(
    fetch_allowed_networks=("127.0.0.0/8",), fetch_host_delay_s=0.0, fetch_timeout_s=1.5, fetch_read_timeout_s=1.0,
    fetch_max_attempts=3, fetch_backoff_base_s=0.05, fetch_backoff_max_s=5.0, fetch_refetch_after_s=0,
)


@pytest.fixture(scope="module")
def site():
    with FetchSite("127.0.0.2") as s:
        yield s


@pytest.fixture(scope="module")
def slow_site():
    with FetchSite("127.0.0.3", crawl_delay=0.5) as s:
        yield s


@asynccontextmanager
async def fetcher(settings=SETTINGS):
    f = Fetcher(settings)
    try:
        yield f
    finally:
        await f.aclose()


def _request(url, trace="a" * 32):
    return make_event("news.fetch.request/1", article_id(url), trace, {"url": url, "source": "test"}, "test")


# --- politeness ---

async def test_robots_disallow_is_honoured_without_requesting_the_page(site):
    async with fetcher() as f:
        with pytest.raises(FetchRefused, match="disallowed by robots.txt"):
            await f.fetch(site.url("/private/7.html"))
        assert (await f.fetch(site.url("/article/1.html"))).status == 200
    assert site.hits_for("/private/7.html") == [] and len(site.hits_for("/robots.txt")) >= 1


async def test_crawl_delay_spaces_requests_to_one_host(slow_site):
    paths = [f"/article/{n}.html" for n in (31, 32, 33)]
    async with fetcher(SETTINGS.replace(fetch_host_concurrency=4)) as f:
        await asyncio.gather(*(f.fetch(slow_site.url(p)) for p in paths))
    starts = sorted(h.at for p in paths for h in slow_site.hits_for(p))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) == 3 and all(g >= 0.45 for g in gaps), gaps


async def test_an_unreachable_robots_txt_keeps_the_fetcher_away():
    with FetchSite("127.0.0.7", robots_status=503) as down:
        async with fetcher() as f:
            with pytest.raises(FetchRefused, match="robots.txt unreachable: HTTP 503"):
                await f.fetch(down.url("/article/1.html"))
        assert [h.path for h in down.hits] == ["/robots.txt"]


async def test_conditional_get_gives_304_and_no_event(site):
    url = site.url("/article/40.html")
    state = {}
    async with fetcher() as f:
        handle = make_handler(SETTINGS, state, f)
        first = await handle(_request(url, "1" * 32))
        validate(first, "news.raw/1")
        assert await handle(_request(url, "2" * 32)) is None  # unchanged: seen, nothing emitted
    hits = site.hits_for("/article/40.html")
    assert "if-none-match" not in hits[0].headers
    assert hits[1].headers["if-none-match"] == '"article-40-v1"'
    assert state[article_id(url)]["trace_id"] == "2" * 32


async def test_a_url_fetched_within_the_window_is_not_fetched_again(site):
    url = site.url("/article/41.html?utm_campaign=x")
    async with fetcher() as f:
        handle = make_handler(SETTINGS.replace(fetch_refetch_after_s=600), {}, f)
        assert await handle(_request(url, "1" * 32))
        assert await handle(_request(url, "2" * 32)) is None
    assert len(site.hits_for("/article/41.html")) == 1  # tracking parameter gone, one URL


# --- robustness ---

async def test_a_redirect_chain_is_followed_and_recorded(site):
    async with fetcher() as f:
        page = await f.fetch(site.url("/chain/3"))
    assert page.final_url == site.url("/article/7.html") and page.url == site.url("/chain/3")
    assert [s for _, s in page.redirects] == [301, 302, 301, 302]
    assert page.redirects[0][0] == site.url("/chain/3")


async def test_redirect_loops_and_overlong_chains_fail(site):
    async with fetcher() as f:
        with pytest.raises(FetchFailed, match="redirect loop"):
            await f.fetch(site.url("/loop/a"))
    async with fetcher(SETTINGS.replace(fetch_max_redirects=2)) as f:
        with pytest.raises(FetchFailed, match="more than 2 redirects"):
            await f.fetch(site.url("/chain/5"))


async def test_429_and_503_are_retried_after_retry_after(site):
    async with fetcher() as f:
        started = time.monotonic()
        page = await f.fetch(site.url("/flaky/429?id=r1&after=1"))
        assert page.status == 200 and page.attempts == 2 and time.monotonic() - started >= 0.95
        page = await f.fetch(site.url("/flaky/503?id=r1"))  # Retry-After as an HTTP date
        assert page.status == 200 and page.attempts == 3
    hits = site.hits_for("/flaky/429?id=r1&after=1")
    assert hits[1].at - hits[0].at >= 0.95


async def test_retries_end_and_permanent_errors_are_not_retried(site):
    async with fetcher() as f:
        with pytest.raises(FetchFailed, match=r"HTTP 503: Service Unavailable \(after 3 attempts\)") as failed:
            await f.fetch(site.url("/always/503?id=e1"))
        assert failed.value.status == 503
        with pytest.raises(FetchFailed, match="HTTP 404") as gone:
            await f.fetch(site.url("/gone?id=e1"))
        assert not gone.value.retryable
        with pytest.raises(FetchFailed, match="Retry-After 3600s is over the 5s limit"):
            await f.fetch(site.url("/always/503?id=e2&after=3600"))
    assert site.count("always-e1") - 1 == 3 and site.count("gone-e1") - 1 == 1 and site.count("always-e2") - 1 == 1


async def test_a_trickling_server_hits_the_total_timeout(site):
    async with fetcher(SETTINGS.replace(fetch_max_attempts=1, fetch_timeout_s=1.0)) as f:
        started = time.monotonic()
        with pytest.raises(FetchFailed, match="total timeout"):
            await f.fetch(site.url("/trickle"))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("path, message", [("/big", "body larger than 10485760"),
                                           ("/big-declared", "31457280 bytes is over the 10485760 byte limit")])
async def test_a_30_mb_body_is_refused_at_the_limit(site, path, message):
    async with fetcher() as f:
        with pytest.raises(BodyTooLarge, match=message):
            await f.fetch(site.url(path))


async def test_a_gzip_bomb_stops_at_the_limit(site):
    gzip_bomb()  # made before the request, so the site answers at once
    async with fetcher(SETTINGS.replace(fetch_max_bytes=4 << 20)) as f:
        with pytest.raises(BodyTooLarge, match="decompressed body larger than"):
            await f.fetch(site.url("/bomb"))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
async def test_compressed_pages_are_decoded(site, coding):
    async with fetcher() as f:
        page = await f.fetch(site.url(f"/encoded/{coding}"))
    assert page.body == article_html(11, words=3000) and page.headers["content-encoding"] == coding
    assert site.hits_for(f"/encoded/{coding}")[0].headers["accept-encoding"] == "gzip, deflate, br, zstd"


async def test_a_wrong_charset_gets_a_corrected_hint(site):
    async with fetcher() as f:
        raw = await make_handler(SETTINGS, {}, f)(_request(site.url("/wrong-charset")))
        latin = await make_handler(SETTINGS, {}, f)(_request(site.url("/latin1")))
    assert raw["payload"]["content_type"] == "text/html; charset=iso-8859-1"
    assert raw["payload"]["charset_hint"] == "utf-8"
    assert latin["payload"]["charset_hint"] == "windows-1252"


async def test_a_pdf_is_refused_and_an_unlabelled_html_page_taken(site):
    async with fetcher() as f:
        with pytest.raises(FetchRefused, match="content type application/pdf"):
            await f.fetch(site.url("/doc.pdf"))
        assert (await f.fetch(site.url("/no-type"))).body == article_html(9)


async def test_cookies_are_not_kept_between_fetches(site):
    async with fetcher() as f:
        await f.fetch(site.url("/cookie"))
        await f.fetch(site.url("/article/13.html"))
    assert "cookie" not in site.hits_for("/article/13.html")[0].headers


# --- safety ---

async def test_a_private_address_is_refused_without_the_allow_list():
    with FetchSite("127.0.0.4") as lonely:
        async with fetcher(SETTINGS.replace(fetch_allowed_networks=())) as f:
            with pytest.raises(AddressRefused, match="127.0.0.4: a loopback address, refused"):
                await f.fetch(lonely.url("/article/1.html"))
        assert lonely.hits == []  # not even robots.txt was asked for


async def test_every_redirect_hop_is_checked(site):
    with FetchSite("127.0.0.5") as elsewhere:
        async with fetcher(SETTINGS.replace(fetch_allowed_networks=("127.0.0.2/32",))) as f:
            with pytest.raises(AddressRefused, match="127.0.0.5"):
                await f.fetch(site.url(f"/redirect?to={elsewhere.url('/article/1.html')}"))
            with pytest.raises(FetchRefused, match="scheme 'file' refused"):
                await f.fetch(site.url("/redirect?to=file:///etc/passwd"))
        assert elsewhere.hits == []


# --- discovery ---

async def test_feed_discovery(site):
    async with fetcher() as f:
        rss = await discover(f, site.url("/feed.xml"), FEED)
        atom = await discover(f, site.url("/atom.xml"), FEED)
    assert rss.urls == [site.url(f"/article/{n}.html") for n in (1, 2, 3)]  # no PDF, no utm_*, no #fragment
    assert atom.urls == [site.url("/article/5.html"), site.url("/article/6.html")]


async def test_sitemap_index_discovery_with_gzip_and_news_sitemaps(site):
    async with fetcher() as f:
        found = await discover(f, site.url("/sitemap-index.xml"), SITEMAP)
    assert found.urls == [site.url(f"/article/{n}.html") for n in range(20, 26)]
    assert len(found.errors) == 1 and "sitemap-missing.xml" in found.errors[0] and "404" in found.errors[0]


async def test_a_feed_is_polled_conditionally(site):
    async with fetcher() as f:
        first = await discover(f, site.url("/feed.xml?etag=1"), FEED)
        again = await discover(f, site.url("/feed.xml?etag=1"), FEED, validators=first.validators)
    assert first.validators == {"etag": '"feed-v1"'}
    assert site.hits_for("/feed.xml?etag=1")[1].headers["if-none-match"] == '"feed-v1"'
    assert again.urls == first.urls  # this site ignores If-None-Match for feeds: the entries come back
