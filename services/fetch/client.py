"""The HTTP fetcher: one URL -> one page, politely, robustly and safely.

In order, for each URL and each redirect hop: scheme check, robots.txt, the host's politeness
slot (per-host concurrency and delay, Crawl-delay) and a global slot, then one HTTP exchange
through the address-checking transport, with connect/read timeouts and a total time limit,
the body streamed under a size limit and decoded under a decompression limit. Network
errors, 5xx and 429 are retried with backoff; everything else that fails raises at once."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field, replace
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urldefrag, urljoin

import httpx

from ..core.envelope import utc_now
from ..core.logs import get_logger
from ..core.settings import Settings
from .addresses import GuardedBackend, check_url, parse_networks, resolve
from .content import BodyTooLarge, Kind, body_decoder, looks_like_html, media_type, type_allowed
from .errors import FetchFailed, FetchRefused
from .politeness import HostLimiter, host_key
from .retry import is_retryable_status, parse_retry_after, retry_delay
from .robots import MAX_ROBOTS_BYTES, RobotsCache

log = get_logger("newsflow.fetch")

REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
ACCEPT = {
    Kind.ARTICLE: "text/html,application/xhtml+xml;q=0.9",
    Kind.DISCOVERY: "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5",
    Kind.ROBOTS: "text/plain,*/*;q=0.5",
}
ACCEPT_ENCODING = "gzip, deflate, br, zstd"


@dataclass(frozen=True)
class FetchedPage:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    elapsed_ms: float
    redirects: tuple[tuple[str, int], ...] = ()  # (url, status) of each hop before final_url
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds
    attempts: int = 1

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class _Redirect:
    location: str
    status: int


def guarded_transport(settings: Settings, resolver=resolve) -> httpx.AsyncHTTPTransport:
    """httpx's transport, its connection pool connecting only through the address guard.
    (httpx has no parameter for httpcore's network backend, hence the assignment.)"""
    transport = httpx.AsyncHTTPTransport(
        trust_env=False,  # no proxy from the environment: it would bypass the address check
        # No more connections than requests in flight (the global slots): httpcore scans its
        # pool on every request, so a bigger pool only costs CPU.
        limits=httpx.Limits(max_connections=max(settings.fetch_concurrency, 1),
                            max_keepalive_connections=max(settings.fetch_concurrency, 1), keepalive_expiry=30),
    )
    transport._pool._network_backend = GuardedBackend(parse_networks(settings.fetch_allowed_networks), resolver)
    return transport


class Fetcher:
    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None,
                 resolver=resolve, sleep=asyncio.sleep, rand=random.random):
        self.settings, self.sleep, self.rand = settings, sleep, rand
        self.client = httpx.AsyncClient(
            transport=transport or guarded_transport(settings, resolver),
            follow_redirects=False,  # followed here, so every hop is checked and recorded
            trust_env=False,
            # No cookie jar across fetches: every fetch is stateless, and a long crawl's jar
            # would only grow (a policy that accepts no domain stores nothing).
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            timeout=httpx.Timeout(connect=settings.fetch_connect_timeout_s, read=settings.fetch_read_timeout_s,
                                  write=settings.fetch_read_timeout_s, pool=None),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )
        self.hosts = HostLimiter(per_host=settings.fetch_host_concurrency)
        self.slots = asyncio.Semaphore(max(1, settings.fetch_concurrency))
        self.robots = RobotsCache(self._load_robots, settings.user_agent, settings.fetch_robots_ttl_s)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(self, url: str, kind: Kind = Kind.ARTICLE, validators: dict | None = None) -> FetchedPage:
        """The page at `url` (status 2xx, or 304 when `validators` match), or FetchFailed."""
        check_url(url)
        started = time.perf_counter()
        attempts = max(1, self.settings.fetch_max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                page = await self._follow(url, kind, validators)
            except FetchFailed as exc:
                if not exc.retryable or attempt == attempts:
                    if attempt > 1:
                        exc.args = (f"{exc.args[0]} (after {attempt} attempts)",)
                    raise
                delay = retry_delay(attempt, exc.retry_after, base=self.settings.fetch_backoff_base_s,
                                    cap=self.settings.fetch_backoff_max_s, rand=self.rand)
                if delay is None:  # the server wants a longer pause than a worker should wait
                    exc.args = (f"{exc.args[0]}; Retry-After {exc.retry_after:.0f}s is over the "
                                f"{self.settings.fetch_backoff_max_s:.0f}s limit",)
                    raise
                log.info("fetch retry", url=url, attempt=attempt, reason=str(exc), delay_s=round(delay, 2))
                await self.sleep(delay)
                continue
            total = round((time.perf_counter() - started) * 1000, 1)
            return replace(page, attempts=attempt, elapsed_ms=total, timings={**page.timings, "total_ms": total})
        raise AssertionError("unreachable")

    async def _follow(self, url: str, kind: Kind, validators: dict | None) -> FetchedPage:
        """One attempt: the URL and its redirects, each hop checked like the first."""
        hops: list[tuple[str, int]] = []
        visited, current, queued = {url}, url, 0.0
        for _ in range(self.settings.fetch_max_redirects + 1):
            check_url(current)
            delay = self.settings.fetch_host_delay_s
            if kind is not Kind.ROBOTS:
                allowed, crawl_delay, why = await self.robots.check(current)
                if not allowed:
                    raise FetchRefused(f"{why}: {current}")
                if crawl_delay:
                    delay = max(delay, min(crawl_delay, self.settings.fetch_max_crawl_delay_s))
            waiting = time.perf_counter()
            async with self.hosts.slot(host_key(current), delay), self.slots:
                queued += time.perf_counter() - waiting
                result = await self._exchange(current, kind, validators)
            if isinstance(result, _Redirect):
                if result.location in visited:
                    raise FetchFailed(f"redirect loop: {current} -> {result.location}", status=result.status)
                hops.append((current, result.status))
                visited.add(result.location)
                current = result.location
                continue
            timings = {**result.timings, "queued_ms": round(queued * 1000, 1)}
            return replace(result, url=url, redirects=tuple(hops), timings=timings)
        raise FetchFailed(f"more than {self.settings.fetch_max_redirects} redirects", status=hops[-1][1])

    async def _exchange(self, url: str, kind: Kind, validators: dict | None) -> FetchedPage | _Redirect:
        """One HTTP request and its response, within the total time limit."""
        headers = {"Accept": ACCEPT[kind]}
        if validators and kind is not Kind.ROBOTS:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        limit = MAX_ROBOTS_BYTES if kind is Kind.ROBOTS else self.settings.fetch_max_bytes
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.fetch_timeout_s):
                async with self.client.stream("GET", url, headers=headers) as response:
                    fetched_at, responded = utc_now(), time.perf_counter()
                    status = response.status_code
                    location = response.headers.get("location")
                    if status in REDIRECT_STATUS and location:
                        return _Redirect(urldefrag(urljoin(url, location.strip())).url, status)
                    body = b""
                    if status != 304:
                        self._check_status(url, response)
                        self._check_type(kind, response)
                        body = await self._read(response, limit, truncate=kind is Kind.ROBOTS)
                        if kind is Kind.ARTICLE and media_type(response.headers.get("content-type")) is None \
                                and not looks_like_html(body):
                            raise FetchRefused("no Content-Type and the body is not HTML", status=status)
        except TimeoutError:
            raise FetchFailed(f"no complete response within {self.settings.fetch_timeout_s}s (total timeout)",
                              retryable=True) from None
        except httpx.TimeoutException as exc:
            raise FetchFailed(f"{type(exc).__name__}: {exc or 'timed out'}", retryable=True) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise FetchFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{type(exc).__name__}: {exc}") from None
        done = time.perf_counter()
        return FetchedPage(
            url=url, final_url=url, status=status, headers={k.lower(): v for k, v in response.headers.items()},
            body=body, fetched_at=fetched_at, elapsed_ms=round((done - started) * 1000, 1),
            timings={"response_ms": round((responded - started) * 1000, 1), "body_ms": round((done - responded) * 1000, 1)},
        )

    def _check_status(self, url: str, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = is_retryable_status(status)
        retry_after = parse_retry_after(response.headers.get("retry-after")) if retryable else None
        if retry_after:  # the whole host is asked to pause, not just this URL
            self.hosts.defer(host_key(url), min(retry_after, self.settings.fetch_backoff_max_s))
        reason = response.reason_phrase or "error"
        if status in REDIRECT_STATUS:
            reason = "redirect without Location"
        raise FetchFailed(reason, status=status, retryable=retryable, retry_after=retry_after)

    def _check_type(self, kind: Kind, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type")
        if not type_allowed(kind, content_type):
            raise FetchRefused(f"content type {media_type(content_type)} is not fetched as {kind.value}",
                               status=response.status_code)
        length = response.headers.get("content-length", "")
        limit = self.settings.fetch_max_bytes
        if kind is not Kind.ROBOTS and length.isdigit() and int(length) > limit:
            raise BodyTooLarge(f"body of {int(length)} bytes is over the {limit} byte limit", status=response.status_code)

    async def _read(self, response: httpx.Response, limit: int, truncate: bool = False) -> bytes:
        """The body, decoded, read no further than `limit` bytes on the wire and once decoded."""
        decoder = body_decoder(response.headers.get("content-encoding"), limit)
        parts, wire = [], 0
        try:
            async for chunk in response.aiter_raw():
                wire += len(chunk)
                if wire > limit:
                    raise BodyTooLarge(f"body larger than {limit} bytes", status=response.status_code)
                parts.append(decoder.feed(chunk))
            parts.append(decoder.flush())
        except BodyTooLarge:
            if not truncate:
                raise
        except (FetchRefused, httpx.HTTPError):
            raise
        except Exception as exc:  # zlib.error, brotli.error, zstd.ZstdError: a corrupt body
            raise FetchFailed(f"undecodable {response.headers.get('content-encoding')} body: {exc}",
                              status=response.status_code) from None
        return b"".join(parts)[:limit]

    async def _load_robots(self, robots_url: str) -> tuple[int | None, bytes, str | None]:
        """robots.txt for the RobotsCache: (status, body, network error)."""
        try:
            page = await self._follow(robots_url, Kind.ROBOTS, None)
            return page.status, page.body, None
        except FetchRefused:
            raise  # a refused address is the URL's own refusal, not a robots.txt problem
        except FetchFailed as exc:
            return (exc.status, b"", None) if exc.status else (None, b"", str(exc))
