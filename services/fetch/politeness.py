"""Politeness: per-host concurrency and a minimum delay between request starts to one host.

A host is scheme + host + port (one server). Each request reserves the next free start time
of its host before it sleeps, so concurrent requests queue up in order, each `delay` after
the previous one, and a Retry-After from the server pushes the whole host back (`defer`)."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from urllib.parse import urlsplit


def host_key(url: str) -> str:
    """The politeness unit of a URL: 'https://example.com:443'."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    host = (parts.hostname or "").lower()
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def reserve(now: float, next_free: float, delay: float) -> tuple[float, float]:
    """Pure: (seconds to wait before starting, the host's next free start time after ours)."""
    start = max(now, next_free)
    return start - now, start + delay


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    next_free: float = 0.0
    users: int = 0


@dataclass
class HostLimiter:
    per_host: int = 2
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Idle hosts are forgotten past this many, so a long crawl over many sites stays small.
    max_idle_hosts: int = 10_000
    _hosts: dict[str, _Host] = field(default_factory=dict)

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            if len(self._hosts) >= self.max_idle_hosts:
                self._forget_idle()
            host = self._hosts[key] = _Host(asyncio.Semaphore(max(1, self.per_host)))
        return host

    def _forget_idle(self) -> None:
        now = self.clock()
        for key in [k for k, h in self._hosts.items() if h.users == 0 and h.next_free <= now]:
            del self._hosts[key]

    @asynccontextmanager
    async def slot(self, key: str, delay: float):
        """Hold one of the host's connections; start no sooner than `delay` after the last start."""
        host = self._host(key)
        host.users += 1
        try:
            async with host.semaphore:
                wait, host.next_free = reserve(self.clock(), host.next_free, delay)
                if wait > 0:
                    await self.sleep(wait)
                yield wait
        finally:
            host.users -= 1

    def defer(self, key: str, seconds: float) -> None:
        """The server asked for a pause (429/503 Retry-After): no request to it before then."""
        host = self._host(key)
        host.next_free = max(host.next_free, self.clock() + seconds)
