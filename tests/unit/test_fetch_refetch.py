"""The refetch schedule, pure: delays, which URLs are due, and the handler's refetch path
(conditional GET, removal on 404/410, a refetch made once) with a fake fetcher."""

import asyncio

import pytest

from newsflow.core.envelope import make_event
from newsflow.core.schemas import validate
from newsflow.core.settings import Settings
from newsflow.fetch.client import FetchedPage
from newsflow.fetch.errors import FetchFailed
from newsflow.fetch.fetcher import make_handler
from newsflow.fetch.refetch import due, parse_schedule, refetch_request, removal_event


def test_schedule_parses_units_and_sorts():
    assert parse_schedule("1h,6h,24h") == (3600, 21600, 86400)
    assert parse_schedule("90, 2m 1d") == (90, 120, 86400)
    assert parse_schedule("") == ()
    for bad in ("x", "-1h", "0", "3w"):
        with pytest.raises(ValueError):
            parse_schedule(bad)


def test_the_next_refetch_is_due_after_its_delay_and_late_ones_fold_into_one():
    schedule = (3600, 21600, 86400)
    state = {"url": "https://x.org/a", "first_fetched_at": 1000.0, "refetched": 0}
    assert due([("a", state)], 1000 + 3599, schedule) == []
    assert due([("a", state)], 1000 + 3600, schedule) == [("a", "https://x.org/a", 1)]
    assert due([("a", {**state, "refetched": 1})], 1000 + 7200, schedule) == []
    assert due([("a", {**state, "refetched": 1})], 1000 + 21600, schedule) == [("a", "https://x.org/a", 2)]
    assert due([("a", state)], 1000 + 90000, schedule) == [("a", "https://x.org/a", 3)]  # down for a day: once
    assert due([("a", {**state, "refetched": 3})], 1e9, schedule) == []
    assert due([("a", {**state, "removed": True})], 1e9, schedule) == []
    assert due([("a", {"first_fetched_at": 1.0}), ("b", "junk")], 1e9, schedule) == []  # no URL kept: nothing


def test_refetch_requests_and_removals_match_their_schemas():
    request = refetch_request("a" * 32, "https://x.org/a", 2)
    validate(request, "news.fetch.request/1")
    assert request["payload"]["refetch"] == 2 and request["payload"]["source"] == "refetch"
    removal = removal_event(request, "https://x.org/a", 410, "HTTP 410: Gone", 1750000000.0)
    validate(removal, "news.removed/1")
    assert removal["id"] == "a" * 32 and removal["payload"]["removed_at"] == "2025-06-15T15:06:40.000Z"


class FakeFetcher:
    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    async def fetch(self, url, kind, validators=None):
        self.calls.append(validators)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def page(status, etag='"v1"', body=b"<html><body><p>text</p></body></html>"):
    return FetchedPage(url="https://x.org/a", final_url="https://x.org/a", status=status,
                       headers={"etag": etag, "content-type": "text/html"}, body=body,
                       fetched_at="2025-06-15T00:00:00Z", elapsed_ms=1.0)


def request(refetch=None):
    payload = {"url": "https://x.org/a", "source": "test"}
    if refetch:
        payload["refetch"] = refetch
    return make_event("news.fetch.request/1", "a" * 32, f"trace{refetch}", payload, "test")


def test_a_refetch_is_conditional_is_made_once_and_a_404_marks_the_page_removed():
    removals, state, now = [], {}, [1000.0]

    async def removed(event):
        removals.append(event)

    fetcher = FakeFetcher([page(200), page(304), FetchFailed("Not Found", status=404)])
    handle = make_handler(Settings(), state, fetcher, clock=lambda: now[0], removed=removed)

    async def go():
        assert (await handle(request()))["schema"] == "news.raw/1"
        now[0] += 5  # well inside the "recently fetched" window: a refetch is fetched all the same
        assert await handle(request(1)) is None          # 304: nothing new
        assert fetcher.calls[1] == {"etag": '"v1"'}       # with If-None-Match
        assert await handle(request(1)) is None and len(fetcher.calls) == 2  # refetch 1 again: made already
        assert await handle(request(2)) is None           # 404 on refetch: removal, no dead letter
        assert await handle(request(3)) is None and len(fetcher.calls) == 3  # removed: no more refetches

    asyncio.run(go())
    assert [e["payload"]["status"] for e in removals] == [404]
    assert state["a" * 32]["removed"] and state["a" * 32]["refetched"] == 2


def test_a_404_on_a_first_fetch_is_still_a_dead_letter():
    handle = make_handler(Settings(), {}, FakeFetcher([FetchFailed("Not Found", status=404)]), removed=lambda e: None)
    with pytest.raises(FetchFailed):
        asyncio.run(handle(request()))
