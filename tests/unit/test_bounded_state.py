"""Bounded state, pure: the retention of URL state, the refetch due time kept with it, and
near-duplicate clustering through windowed claims (what the Elasticsearch stores keep)."""

from __future__ import annotations

import asyncio
import functools
import random

import pytest

from newsflow.core.settings import Settings
from newsflow.enrich import clusters
from newsflow.fetch.fetcher import make_handler
from newsflow.fetch.refetch import check_retention, due, next_due_at, parse_schedule
from newsflow.fetch.state import expired
from newsflow.fetch.url_state import state_document

from .test_enrich_clusters import COPY_URL, SEED_URL, event, relaid_copy, seed, unrelated_article
from .test_fetch_refetch import FakeFetcher, page, request
from newsflow.parse.extract import extract_article

DAY = 86400.0


def test_durations_in_settings(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_NEAR_DUPLICATE_WINDOW", "7d")
    monkeypatch.setenv("NEWSFLOW_FETCH_URL_STATE_RETENTION", "36h")
    monkeypatch.setenv("NEWSFLOW_STATE_SWEEP_INTERVAL", "90")
    s = Settings()
    assert (s.near_duplicate_window_s, s.fetch_url_state_retention_s, s.state_sweep_interval_s) == (7 * DAY, 36 * 3600, 90)
    monkeypatch.delenv("NEWSFLOW_NEAR_DUPLICATE_WINDOW")
    assert Settings().near_duplicate_window_s == 30 * DAY


def test_url_state_expires_after_its_last_fetch():
    state = {"fetched_at": 1000.0}
    assert not expired(state, 1000.0 + 30 * DAY, 30 * DAY)
    assert expired(state, 1000.0 + 30 * DAY + 1, 30 * DAY)
    assert not expired(state, 1e12, 0)  # 0: kept forever
    assert not expired(None, 1e12, 1.0)


def test_an_expired_state_reads_as_absent_a_live_one_does_not():
    now = [1000.0]
    settings = Settings(fetch_url_state_retention_s=10 * DAY, fetch_refetch_after_s=3600)
    state = {}
    fetcher = FakeFetcher([page(200), page(200), page(200)])
    handle = make_handler(settings, state, fetcher, clock=lambda: now[0])

    async def go():
        await handle(request())
        now[0] += 2 * 3600
        await handle(make_request("t2"))        # live state: a conditional GET
        now[0] += 10 * DAY + 1
        await handle(make_request("t3"))        # expired: a first fetch again, no validators
    asyncio.run(go())
    assert fetcher.calls[1] == {"etag": '"v1"'} and fetcher.calls[2] is None
    assert state["a" * 32]["first_fetched_at"] == now[0]  # the schedule starts over


def make_request(trace):
    r = request()
    return {**r, "trace_id": trace * 16}


def test_due_at_is_the_next_point_of_the_schedule_and_agrees_with_due():
    schedule = parse_schedule("1h,6h,24h")
    state = {"url": "https://x.org/a", "first_fetched_at": 1000.0, "refetched": 0, "fetched_at": 1000.0}
    assert next_due_at(state, schedule) == 1000.0 + 3600
    assert next_due_at({**state, "refetched": 2}, schedule) == 1000.0 + 86400
    assert next_due_at({**state, "refetched": 3}, schedule) is None
    assert next_due_at({**state, "removed": True}, schedule) is None
    assert next_due_at({"first_fetched_at": 1.0}, schedule) is None
    assert state_document(state, schedule)["due_at"] == 4600.0
    assert "due_at" not in state_document({**state, "refetched": 3, "due_at": 5.0}, schedule)
    # the indexed due time finds exactly what `due` finds, at any moment
    rng = random.Random(7)
    for _ in range(500):
        s = {**state, "refetched": rng.randint(0, 3), "removed": rng.random() < 0.1}
        now = 1000.0 + rng.uniform(0, 2 * DAY)
        at = next_due_at(s, schedule)
        assert bool(due([("a", s)], now, schedule)) == (at is not None and at <= now)


def test_retention_must_outlast_the_schedule_and_the_window():
    schedule = parse_schedule("1h,6h,24h")
    check_retention(30 * DAY, schedule, 3600)
    check_retention(0, schedule, 3600)  # forever
    with pytest.raises(ValueError, match="RETENTION"):
        check_retention(12 * 3600, schedule, 3600)


def timed(e: dict, at: float) -> dict:
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")
    return {**e, "payload": {**e["payload"], "fetched_at": stamp}}


def story():
    """The seed, its relaid copy and an unrelated article, linked by text only (the seed and
    its copy both name the same original, which would cluster them whatever their text).
    Fresh copies of events extracted once (extraction is the slow part)."""
    return _copy(_story())


@functools.lru_cache(maxsize=1)
def _story():
    original = seed()
    copy = extract_article(relaid_copy(original).encode(), COPY_URL)
    events = event(SEED_URL, original), event(COPY_URL, copy), event("http://127.0.0.1:8765/other", unrelated_article())
    for e in events:
        e["payload"]["enrichment"]["duplicates"]["original_id"] = None
    return events


def test_a_link_to_an_original_counts_like_a_shared_band():
    a, b, _ = story()
    b["payload"]["enrichment"]["duplicates"] = {"original_id": a["id"], "bands": []}
    memory, table = clusters.MemoryClusters(30 * DAY), {}
    for e in (timed(b, 1.75e9), timed(a, 1.75e9 + 5)):
        assert cluster_of(memory.settle(_copy(e))) == cluster_of(clusters.settle(_copy(e), table)) == a["id"]


def cluster_of(e: dict) -> str:
    return e["payload"]["enrichment"]["cluster_id"]


def test_windowed_claims_decide_as_one_growing_table_within_the_window():
    a, b, other = story()
    t0 = 1.75e9
    memory, table = clusters.MemoryClusters(30 * DAY), {}
    for e, at in ((a, t0), (other, t0 + 10), (b, t0 + DAY)):
        e = timed(e, at)
        assert cluster_of(memory.settle(_copy(e))) == cluster_of(clusters.settle(_copy(e), table))
    assert cluster_of(memory.settle(timed(_copy(b), t0 + DAY))) == a["id"]   # a redelivery keeps it
    assert cluster_of(memory.settle(timed(_copy(other), t0))) == other["id"]


def test_a_copy_outside_the_window_starts_its_own_cluster():
    a, b, _ = story()
    t0 = 1.75e9
    memory = clusters.MemoryClusters(30 * DAY)
    memory.settle(timed(_copy(a), t0))
    assert cluster_of(memory.settle(timed(_copy(b), t0 + 31 * DAY))) == b["id"]
    fresh = clusters.MemoryClusters(30 * DAY)
    fresh.settle(timed(_copy(a), t0))
    assert cluster_of(fresh.settle(timed(_copy(b), t0 + 29 * DAY))) == a["id"]


def test_pruned_claims_are_gone_and_a_redelivery_claims_nothing_new():
    a, b, _ = story()
    t0 = 1.75e9
    memory = clusters.MemoryClusters(0)  # no window: only the pruning forgets
    memory.settle(timed(_copy(a), t0))
    claims = sum(len(v) for v in memory.by_key.values())
    settled, claim = clusters.decide(timed(_copy(a), t0), [c for v in memory.by_key.values() for c in v], 0, 99)
    assert claim is None and cluster_of(settled) == a["id"] and claims == 17  # own id + 16 bands
    memory.prune(t0 + 1)
    assert memory.by_key == {}
    assert cluster_of(memory.settle(timed(_copy(b), t0 + 2))) == b["id"]


def test_the_earliest_claim_wins_whatever_order_the_claims_come_in():
    claims = [{"article": "z", "cluster": "late", "claims": ["k"], "at": 5.0, "seq": 9},
              {"article": "y", "cluster": "early", "claims": ["k", "j"], "at": 9.0, "seq": 3}]
    assert clusters.claims_view(claims) == {"k": "early", "j": "early"}
    assert clusters.claims_view(list(reversed(claims))) == {"k": "early", "j": "early"}


def _copy(e: dict) -> dict:
    import copy

    return copy.deepcopy(e)
