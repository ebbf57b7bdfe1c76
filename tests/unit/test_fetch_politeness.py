"""Per-host politeness and retry timing: pure functions and the host limiter on a fake clock."""

import asyncio
from datetime import datetime, timezone

import pytest

from newsflow.fetch.politeness import HostLimiter, host_key, reserve
from newsflow.fetch.retry import is_retryable_status, parse_retry_after, retry_delay


def test_host_key_is_scheme_host_and_port():
    assert host_key("https://Example.com/a?b") == "https://example.com:443"
    assert host_key("http://example.com:8080/") == "http://example.com:8080"
    assert host_key("http://[::1]:9/x") == "http://[::1]:9"


def test_reserve_spaces_starts_by_the_delay():
    assert reserve(now=10.0, next_free=0.0, delay=2.0) == (0.0, 12.0)
    assert reserve(now=10.0, next_free=12.0, delay=2.0) == (2.0, 14.0)
    assert reserve(now=20.0, next_free=12.0, delay=0.0) == (0.0, 20.0)


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.starts = []

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds
        await asyncio.sleep(0)


async def test_requests_to_one_host_start_a_delay_apart_and_other_hosts_do_not_wait():
    fake = FakeTime()  # the clock stands still: each start is the reservation time plus its wait
    limiter = HostLimiter(per_host=2, clock=fake.clock, sleep=lambda s: asyncio.sleep(0))

    async def request(host):
        async with limiter.slot(host, 1.5) as waited:
            fake.starts.append((host, fake.now + waited))

    await asyncio.gather(*(request("http://a:80") for _ in range(3)), request("http://b:80"))
    assert [t for h, t in fake.starts if h == "http://a:80"] == [100.0, 101.5, 103.0]
    assert [t for h, t in fake.starts if h == "http://b:80"] == [100.0]


async def test_per_host_concurrency_is_bounded():
    limiter = HostLimiter(per_host=2)
    running, peak = 0, 0

    async def request():
        nonlocal running, peak
        async with limiter.slot("http://a:80", 0.0):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(request() for _ in range(6)))
    assert peak == 2


async def test_defer_pushes_the_whole_host_back():
    fake = FakeTime()
    limiter = HostLimiter(per_host=1, clock=fake.clock, sleep=fake.sleep)
    limiter.defer("http://a:80", 30.0)
    async with limiter.slot("http://a:80", 0.0) as waited:
        assert waited == 30.0


def test_retry_after_as_seconds_or_http_date():
    now = datetime(2025, 6, 24, 10, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Tue, 24 Jun 2025 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 24 Jun 2025 09:00:00 GMT", now) == 0.0  # in the past: now
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("") is None


def test_backoff_doubles_with_jitter_and_is_capped():
    lows = [retry_delay(n, base=1.0, cap=60.0, rand=lambda: 0.0) for n in range(1, 9)]
    highs = [retry_delay(n, base=1.0, cap=60.0, rand=lambda: 1.0) for n in range(1, 9)]
    assert highs[:4] == [1.0, 2.0, 4.0, 8.0] and lows[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(highs) == 60.0


def test_retry_after_is_a_floor_and_beyond_the_cap_gives_up():
    assert retry_delay(1, 10.0, base=1.0, cap=60.0, rand=lambda: 1.0) == 10.0
    assert retry_delay(5, 1.0, base=1.0, cap=60.0, rand=lambda: 1.0) == 16.0
    assert retry_delay(1, 3600.0, base=1.0, cap=60.0) is None


@pytest.mark.parametrize("status, retryable", [(429, True), (500, True), (502, True), (503, True), (504, True),
                                               (408, True), (400, False), (401, False), (403, False), (404, False),
                                               (410, False), (451, False)])
def test_which_statuses_are_retried(status, retryable):
    assert is_retryable_status(status) is retryable

