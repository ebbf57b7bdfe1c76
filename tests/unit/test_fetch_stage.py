"""The fetch stage function with a stand-in fetcher: the recently-fetched window, 304s,
redeliveries, URL normalisation and the news.raw event it builds."""

import pytest

from newsflow.core.envelope import encode, make_event
from newsflow.core.ids import article_id
from newsflow.core.schemas import validate
from newsflow.core.settings import Settings
from newsflow.fetch.client import FetchedPage
from newsflow.fetch.fetcher import make_handler, raw_event

SETTINGS = Settings(fetch_refetch_after_s=60, compress_over_bytes=100)
URL = "https://news.example/a.html"


class StubFetcher:
    def __init__(self, status=200):
        self.calls, self.status = [], status

    async def fetch(self, url, kind, validators=None):
        self.calls.append((url, validators))
        status = 304 if validators and self.status == 304 else 200
        return FetchedPage(url=url, final_url=url, status=status,
                           headers={"content-type": "text/html; charset=iso-8859-1", "etag": '"v1"'},
                           body=b"" if status == 304 else "<html>Grüße</html>".encode() * 20,
                           fetched_at="2025-06-25T10:00:00.000Z", elapsed_ms=3.0, timings={"total_ms": 3.0})


def request(url=URL, trace="1" * 32):
    event = make_event("news.fetch.request/1", article_id(url), trace, {"url": url, "source": "test"}, "test")
    encode(event, "news.fetch.request/1")
    return event


def clock_at(t):
    now = [t]
    return now, (lambda: now[0])


async def test_a_second_request_within_the_window_is_skipped_and_after_it_is_conditional():
    stub, state = StubFetcher(status=304), {}
    now, clock = clock_at(1000.0)
    handle = make_handler(SETTINGS, state, stub, clock)

    first = await handle(request(trace="1" * 32))
    assert first["schema"] == "news.raw/1" and len(stub.calls) == 1 and stub.calls[0][1] is None
    assert state[article_id(URL)]["etag"] == '"v1"'

    now[0] = 1030.0
    assert await handle(request(trace="2" * 32)) is None  # recently fetched: no fetch at all
    assert len(stub.calls) == 1

    now[0] = 1100.0
    assert await handle(request(trace="3" * 32)) is None  # conditional GET answered 304: seen, nothing emitted
    assert stub.calls[1][1] == {"etag": '"v1"'}
    assert state[article_id(URL)]["fetched_at"] == 1100.0 and state[article_id(URL)]["trace_id"] == "3" * 32
    assert await handle(request(trace="3" * 32)) is None  # redelivered after its 304: nothing to do
    assert len(stub.calls) == 2


async def test_a_redelivered_request_is_fetched_and_emitted_again():
    stub, state = StubFetcher(status=304), {}
    handle = make_handler(SETTINGS, state, stub, clock_at(1000.0)[1])
    assert await handle(request(trace="1" * 32))
    again = await handle(request(trace="1" * 32))  # the consumer restarted before committing
    assert again is not None and stub.calls[1][1] is None


async def test_tracking_parameters_are_removed_before_fetching():
    stub = StubFetcher()
    handle = make_handler(SETTINGS, {}, stub)
    raw = await handle(request("https://News.example/a.html?utm_source=x&fbclid=1&id=7#top"))
    assert stub.calls[0][0] == "https://news.example/a.html?id=7"
    assert raw["payload"]["url"] == "https://news.example/a.html?id=7"


def test_raw_event_carries_redirects_timings_attempts_and_a_corrected_charset():
    page = FetchedPage(url="http://a.example/x", final_url="http://a.example/y", status=200,
                       headers={"content-type": "text/html; charset=iso-8859-1"}, body="<p>Grüße</p>".encode() * 50,
                       fetched_at="2025-06-25T10:00:00.000Z", elapsed_ms=12.0,
                       redirects=(("http://a.example/x", 301),), timings={"queued_ms": 1.0, "total_ms": 12.0}, attempts=2)
    raw = raw_event(request("http://a.example/x"), page, SETTINGS)
    validate(raw, "news.raw/1")
    payload = raw["payload"]
    assert raw["id"] == article_id("http://a.example/y")
    assert payload["redirects"] == [{"url": "http://a.example/x", "status": 301}]
    assert payload["timings"]["total_ms"] == 12.0 and payload["attempts"] == 2
    assert payload["charset_hint"] == "utf-8" and payload["body_compression"] == "zstd"


@pytest.mark.parametrize("window", [0])
async def test_a_zero_window_always_fetches(window):
    stub = StubFetcher()
    handle = make_handler(Settings(fetch_refetch_after_s=window), {}, stub, clock_at(1.0)[1])
    await handle(request(trace="1" * 32))
    await handle(request(trace="2" * 32))
    assert len(stub.calls) == 2


async def test_the_shell_writes_nothing_for_a_stage_result_of_none():
    from newsflow.core.stage import StageSpec, handle_message

    spec = StageSpec(name="fetch", input_topic="news.fetch.requests", input_schema="news.fetch.request/1",
                     output_topic="news.raw", output_schema="news.raw/1", handle=lambda event: None)
    assert await handle_message(spec, encode(request(), "news.fetch.request/1"), SETTINGS) is None
