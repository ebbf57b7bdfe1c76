"""The fuzz generator itself: every kind appears, every event is rejected by decode, the same
seed gives the same events, and no two events are alike (their dead letters are told apart)."""

import pytest

from newsflow.core.envelope import InvalidEvent, decode, make_event

from ..fuzzgen import KINDS, malformed

GOOD = make_event("news.fetch.request/1", "a" * 32, "b" * 32, {"url": "https://example.org/x", "source": "t"}, "test")


def test_every_kind_is_made_and_every_event_is_rejected():
    events = list(malformed(GOOD, "news.fetch.request/1", 400, seed=7, huge_bytes=4096, huge_share=0.1))
    assert {kind for kind, _ in events} == set(KINDS)
    assert len({value for _, value in events}) == len(events)
    for _, value in events:
        with pytest.raises(InvalidEvent):
            decode(value, "news.fetch.request/1")


def test_the_same_seed_gives_the_same_events():
    first = list(malformed(GOOD, "news.fetch.request/1", 50, seed=3))
    assert first == list(malformed(GOOD, "news.fetch.request/1", 50, seed=3))
