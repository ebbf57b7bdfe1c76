"""Per-URL state: the recently-fetched window, conditional GET validators, redeliveries."""

from newsflow.fetch.state import after_fetch, is_redelivery, recently_fetched, unchanged_before, validators

STATE = {"fetched_at": 1000.0, "trace_id": "t1", "status": 200, "etag": '"v1"', "last_modified": "Tue, 24 Jun 2025 10:00:00 GMT"}


def test_another_request_within_the_window_is_not_fetched():
    assert recently_fetched(STATE, "t2", now=1000.0 + 59, window_s=60)
    assert not recently_fetched(STATE, "t2", now=1000.0 + 61, window_s=60)
    assert not recently_fetched(None, "t2", now=1000.0, window_s=60)
    assert not recently_fetched(STATE, "t2", now=1001.0, window_s=0)


def test_a_redelivered_request_is_fetched_again_in_full():
    assert is_redelivery(STATE, "t1")
    assert not recently_fetched(STATE, "t1", now=1001.0, window_s=60)
    assert validators(STATE, "t1") is None


def test_validators_for_a_conditional_get():
    assert validators(STATE, "t2") == {"etag": '"v1"', "last_modified": "Tue, 24 Jun 2025 10:00:00 GMT"}
    assert validators({"fetched_at": 1.0, "trace_id": "t1"}, "t2") is None


def test_state_after_a_200_takes_the_new_validators_and_after_a_304_keeps_the_old():
    fresh = after_fetch(STATE, 200, {"etag": '"v2"'}, "t3", 2000.0)
    assert fresh == {"fetched_at": 2000.0, "trace_id": "t3", "status": 200, "etag": '"v2"',
                     "first_fetched_at": 2000.0, "refetched": 0}
    same = after_fetch(STATE, 304, {}, "t4", 3000.0)
    assert same["etag"] == '"v1"' and same["last_modified"] == STATE["last_modified"] and same["fetched_at"] == 3000.0
    renewed = after_fetch(STATE, 304, {"etag": '"v1b"'}, "t5", 3000.0)
    assert renewed["etag"] == '"v1b"'


def test_a_redelivered_request_answered_304_before_needs_nothing():
    seen = {**STATE, "status": 304}
    assert unchanged_before(seen, "t1") and not unchanged_before(seen, "t2") and not unchanged_before(STATE, "t1")


def test_the_first_fetch_time_the_url_and_the_refetches_made_carry_over():
    first = after_fetch(None, 200, {}, "t1", 100.0, url="https://x.org/a")
    assert (first["first_fetched_at"], first["url"], first["refetched"]) == (100.0, "https://x.org/a", 0)
    again = after_fetch(first, 304, {}, "t2", 3700.0, refetch=1)
    assert (again["first_fetched_at"], again["url"], again["refetched"]) == (100.0, "https://x.org/a", 1)
    resubmitted = after_fetch(again, 200, {}, "t3", 4000.0)  # a plain request: the count stays
    assert (resubmitted["first_fetched_at"], resubmitted["refetched"]) == (100.0, 1)
