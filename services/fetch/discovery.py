"""Discovery: article URLs from RSS/Atom feeds (feedparser) and sitemaps (lxml): sitemap
indexes, gzip sitemaps, news sitemaps. Parsing is pure; `discover` fetches through the
same polite, checked Fetcher as articles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree

from ..core.ids import normalise_url
from .client import Fetcher
from .content import BodyTooLarge, Kind, gunzip_limited
from .errors import FetchFailed

FEED, SITEMAP = "feed", "sitemap"
# Links to these are files, not articles: skipped before anyone fetches them.
NOT_ARTICLES = frozenset({
    ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".mp3", ".mp4", ".m4a", ".mov", ".avi", ".zip",
    ".gz", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".exe", ".dmg", ".apk", ".epub", ".css", ".js",
})
# A sitemap index may point at many sitemaps; one poll reads at most this many.
MAX_SITEMAPS = 100
# The XML parser neither resolves entities nor reaches the network (no XXE), and is forgiving.
_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True, remove_comments=True)


def feed_links(body: bytes, base_url: str) -> list[str]:
    """Entry links of an RSS or Atom feed, in feed order, resolved against the feed's URL."""
    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    links = []
    for entry in parsed.entries:
        link = entry.get("feedburner_origlink") or entry.get("link")
        if not link and entry.get("guidislink"):
            link = entry.get("id")
        if link:
            links.append(urljoin(base_url, link.strip()))
    return links


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def sitemap_links(body: bytes, base_url: str) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap, a sitemap index or a news sitemap;
    a plain-text sitemap (one URL a line) is read too. Gzip input is inflated first."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip_limited(body, 64 * 1024 * 1024)
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        lines = stripped.decode("utf-8", errors="replace").splitlines()
        return [line.strip() for line in lines if line.strip().startswith(("http://", "https://"))], []
    root = etree.fromstring(stripped, _XML)
    if root is None:
        return [], []
    pages, children = [], []
    for entry in root:
        kind = _local(entry.tag)
        if kind not in ("url", "sitemap"):
            continue
        # Only the entry's own <loc>: image:loc and video:loc inside it are not pages.
        loc = next((el.text for el in entry if _local(el.tag) == "loc" and el.text), None)
        if loc:
            (pages if kind == "url" else children).append(urljoin(base_url, loc.strip()))
    return pages, children


def article_candidates(urls: list[str], limit: int | None = None) -> list[str]:
    """Normalised, de-duplicated http(s) URLs that may be articles (files skipped), in order."""
    found: dict[str, None] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        if PurePosixPath(parts.path).suffix.lower() in NOT_ARTICLES:
            continue
        try:
            found.setdefault(normalise_url(url))
        except ValueError:
            continue
        if limit is not None and len(found) >= limit:
            break
    return list(found)


@dataclass
class Discovered:
    source: str
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_modified: bool = False
    validators: dict | None = None  # of the feed or sitemap itself, for the next poll


async def discover(fetcher: Fetcher, url: str, kind: str, *, max_urls: int = 50_000,
                   validators: dict | None = None) -> Discovered:
    """The article URLs a feed or sitemap (index) lists now. A failing child sitemap is
    reported in `errors` and the rest still count; a failing top document raises FetchFailed."""
    result = Discovered(source=f"{kind}:{url}")
    page = await fetcher.fetch(url, Kind.DISCOVERY, validators)
    result.validators = {k: v for k, v in (("etag", page.headers.get("etag")),
                                            ("last_modified", page.headers.get("last-modified"))) if v} or None
    if page.not_modified:
        result.not_modified, result.validators = True, validators
        return result
    if kind == FEED:
        result.urls = article_candidates(feed_links(page.body, page.final_url), max_urls)
        return result
    if kind != SITEMAP:
        raise ValueError(f"unknown source type {kind!r}: feed or sitemap")
    found: list[str] = []
    queue, seen, body, base = [], {page.final_url, url}, page.body, page.final_url
    for _ in range(MAX_SITEMAPS):
        try:
            pages, children = sitemap_links(body, base)
        except (etree.XMLSyntaxError, BodyTooLarge) as exc:
            result.errors.append(f"{base}: {exc}")
            pages, children = [], []
        found.extend(pages)
        queue.extend(c for c in children if c not in seen)
        seen.update(children)
        if len(found) >= max_urls or not queue:
            break
        base = queue.pop(0)
        try:
            child = await fetcher.fetch(base, Kind.DISCOVERY)
            body, base = child.body, child.final_url
        except FetchFailed as exc:
            result.errors.append(f"{base}: {exc}")
            body = b""
    result.urls = article_candidates(found, max_urls)
    return result
