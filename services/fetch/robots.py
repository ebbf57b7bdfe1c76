"""robots.txt: fetched once per host and kept for a time to live, parsed by protego.

What a robots.txt answer means follows RFC 9309: 2xx is the rules; 4xx means there are none
(everything allowed); a 5xx or a network failure means the site is unreachable, so nothing
is fetched from it for now (kept only briefly, so the host is asked again soon)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from protego import Protego

from .politeness import host_key

# RFC 9309 asks crawlers to read at least 500 KiB; more than that is not a robots.txt.
MAX_ROBOTS_BYTES = 512 * 1024
# An unreachable robots.txt is asked for again after this long, whatever the TTL.
UNREACHABLE_TTL_S = 60.0


@dataclass(frozen=True)
class RobotsRules:
    """One host's rules. `unreachable` holds the reason when robots.txt could not be read."""
    parser: Protego | None = None
    unreachable: str | None = None

    def allowed(self, url: str, agent: str) -> bool:
        return self.unreachable is None and (self.parser is None or self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        if delay is None:  # Request-rate: n/m means one request every m/n seconds
            rate = self.parser.request_rate(agent)
            delay = rate.seconds / rate.requests if rate and rate.requests else None
        return float(delay) if delay is not None else None


def rules_from_response(status: int | None, body: bytes, error: str | None = None) -> RobotsRules:
    """Pure: what a robots.txt response means for the host."""
    if error is not None or status is None:
        return RobotsRules(unreachable=f"robots.txt unreachable: {error or 'no response'}")
    if 200 <= status < 300:
        return RobotsRules(parser=Protego.parse(body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")))
    if 400 <= status < 500:
        return RobotsRules()  # no robots.txt: no rules
    return RobotsRules(unreachable=f"robots.txt unreachable: HTTP {status}")


def robots_agent(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: 'newsflow/0.1 (+...)' -> 'newsflow'."""
    return user_agent.split("/", 1)[0].split()[0].lower() if user_agent.strip() else "*"


# (status, body, error) of GET robots.txt; the fetcher supplies it.
Loader = Callable[[str], Awaitable[tuple[int | None, bytes, str | None]]]


class RobotsCache:
    """Rules per host, each kept for `ttl_s`; concurrent first requests share one download."""

    def __init__(self, load: Loader, user_agent: str, ttl_s: float = 3600.0, clock=time.monotonic,
                 max_hosts: int = 10_000):
        self.load, self.agent, self.ttl_s, self.clock, self.max_hosts = load, robots_agent(user_agent), ttl_s, clock, max_hosts
        self._rules: dict[str, tuple[float, RobotsRules]] = {}
        self._pending: dict[str, asyncio.Future] = {}

    async def rules(self, url: str) -> RobotsRules:
        key = host_key(url)
        cached = self._rules.get(key)
        if cached and cached[0] > self.clock():
            return cached[1]
        if key in self._pending:
            return await asyncio.shield(self._pending[key])
        future = self._pending[key] = asyncio.get_running_loop().create_future()
        try:
            rules = rules_from_response(*await self.load(f"{key}/robots.txt"))
            ttl = UNREACHABLE_TTL_S if rules.unreachable else self.ttl_s
            if len(self._rules) >= self.max_hosts:
                self._rules.clear()  # crude but bounded: rules are cheap to fetch again
            self._rules[key] = (self.clock() + ttl, rules)
            future.set_result(rules)
            return rules
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            del self._pending[key]

    async def check(self, url: str) -> tuple[bool, float | None, str | None]:
        """(allowed, crawl delay, why not) for one URL."""
        rules = await self.rules(url)
        if rules.unreachable:
            return False, None, rules.unreachable
        if not rules.allowed(url, self.agent):
            return False, None, "disallowed by robots.txt"
        return True, rules.crawl_delay(self.agent), None
