"""Article and trace ids. An article id is a stable hash of the normalised URL, so the same
article fetched twice, or through a tracking link, gets the same id."""

from __future__ import annotations

import hashlib
import uuid

from urllib.parse import urldefrag

from courlan import normalize_url


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and tracking parameters (utm_*, fbclid,
    gclid, ...), sort the query. Other parameters stay: `?id=123` can name the article."""
    return urldefrag(normalize_url(url.strip())).url


def article_id(url: str) -> str:
    return hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()[:32]


def content_id(data: bytes) -> str:
    """An id for input that carries no URL (e.g. unreadable events sent to the DLQ)."""
    return hashlib.sha256(data).hexdigest()[:32]


def new_trace_id() -> str:
    return uuid.uuid4().hex
