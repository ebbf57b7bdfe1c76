"""robots.txt: what each answer means (RFC 9309), the agent token, and the per-host cache."""

import asyncio

from newsflow.fetch.robots import RobotsCache, rules_from_response, robots_agent

UA = "newsflow/0.1 (+https://github.com/newsflow)"
ROBOTS = b"""User-agent: *
Disallow: /private/
Crawl-delay: 0.5

User-agent: newsflow
Disallow: /no-newsflow/
Request-rate: 1/4
"""


def test_rules_apply_to_our_agent_group():
    rules = rules_from_response(200, ROBOTS)
    agent = robots_agent(UA)
    assert agent == "newsflow"
    assert rules.allowed("http://x/private/a", "otherbot") is False
    assert rules.allowed("http://x/no-newsflow/a", agent) is False
    assert rules.allowed("http://x/article", agent) is True
    assert rules.crawl_delay(agent) == 4.0  # Request-rate 1/4: one request every 4 s
    assert rules.crawl_delay("otherbot") == 0.5


def test_a_missing_robots_txt_allows_everything_and_a_server_error_nothing():
    assert rules_from_response(404, b"").allowed("http://x/anything", "newsflow")
    assert rules_from_response(410, b"").unreachable is None
    broken = rules_from_response(503, b"")
    assert not broken.allowed("http://x/a", "newsflow") and "HTTP 503" in broken.unreachable
    assert "timed out" in rules_from_response(None, b"", "timed out").unreachable


async def test_the_cache_fetches_once_per_host_until_the_ttl_and_shares_a_pending_download():
    now = [0.0]
    loads = []

    async def load(url):
        loads.append(url)
        await asyncio.sleep(0.01)
        return 200, ROBOTS, None

    cache = RobotsCache(load, UA, ttl_s=60, clock=lambda: now[0])
    results = await asyncio.gather(*(cache.check(f"http://a.example/p{i}") for i in range(5)))
    assert loads == ["http://a.example:80/robots.txt"]
    assert all(allowed for allowed, _, _ in results) and results[0][1] == 4.0
    assert await cache.check("http://a.example/no-newsflow/x") == (False, None, "disallowed by robots.txt")
    await cache.check("https://a.example/x")  # another scheme is another server
    assert len(loads) == 2
    now[0] = 61.0
    await cache.check("http://a.example/p1")
    assert len(loads) == 3


async def test_an_unreachable_robots_txt_is_asked_again_soon():
    now = [0.0]
    answers = [(503, b"", None), (200, b"User-agent: *\nAllow: /\n", None)]

    async def load(url):
        return answers.pop(0)

    cache = RobotsCache(load, UA, ttl_s=3600, clock=lambda: now[0])
    allowed, _, why = await cache.check("http://b.example/a")
    assert not allowed and "unreachable" in why
    now[0] = 61.0
    assert (await cache.check("http://b.example/a"))[0]
