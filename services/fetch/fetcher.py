"""The fetch stage: a news.fetch.request event -> a news.raw event carrying the page.

`fetch_page` is the only I/O; `raw_event` builds the event from what came back and is pure."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from ..core.body import encode_body
from ..core.envelope import make_event, utc_now
from ..core.ids import article_id
from ..core.settings import Settings

SERVICE = "fetch"
INPUT_SCHEMA = "news.fetch.request/1"
OUTPUT_SCHEMA = "news.raw/1"


class FetchFailed(Exception):
    """The URL gave no page: network error, HTTP error status or a body over the limit."""


@dataclass(frozen=True)
class FetchedPage:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    elapsed_ms: float


def raw_event(request: dict, page: FetchedPage, settings: Settings) -> dict:
    """Pure: the request event and the fetched page -> news.raw/1."""
    body, compression = encode_body(page.body, settings.compress_over_bytes)
    content_type = page.headers.get("content-type")
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"') or None
    payload = {
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "headers": page.headers,
        "content_type": content_type,
        "charset_hint": charset,
        "fetched_at": page.fetched_at,
        "elapsed_ms": page.elapsed_ms,
        "source": request["payload"].get("source"),
        "body": body,
        "body_compression": compression,
        "body_size": len(page.body),
    }
    return make_event(OUTPUT_SCHEMA, article_id(page.final_url), request["trace_id"], payload, SERVICE)


async def fetch_page(client: httpx.AsyncClient, url: str, max_bytes: int) -> FetchedPage:
    started = time.perf_counter()
    fetched_at = utc_now()
    try:
        async with client.stream("GET", url) as response:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchFailed(f"body larger than {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise FetchFailed(f"HTTP {response.status_code} {response.reason_phrase}")
    return FetchedPage(
        url=url, final_url=str(response.url), status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()}, body=b"".join(chunks),
        fetched_at=fetched_at, elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        follow_redirects=True, max_redirects=10, timeout=httpx.Timeout(settings.fetch_timeout_s, connect=10.0),
        headers={"User-Agent": settings.user_agent, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"},
    )


def make_handler(settings: Settings):
    """The stage's handle function, holding one HTTP client for the life of the worker."""
    client: httpx.AsyncClient | None = None

    async def fetch(request: dict) -> dict:
        nonlocal client
        client = client or http_client(settings)
        page = await fetch_page(client, request["payload"]["url"], settings.fetch_max_bytes)
        return raw_event(request, page, settings)

    return fetch
