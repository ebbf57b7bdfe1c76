"""The parse stage's core: one saved page -> the article's text and metadata.

Pure and deterministic (no network, no clock except the time limit and htmldate's "no date
after today"), so that a replay with the same parser version gives the same result.
"""

from __future__ import annotations

from typing import Any

from lxml.html import HtmlElement

from .body import extract_body
from .decoding import UndecodableInput, decode_html, looks_binary
from .dom import UnparsableMarkup, parse_html
from .guard import TimeLimitExceeded, time_limit
from .images import article_images
from .jsonld import article_node, jsonld_nodes
from .language import page_language
from .metadata import PageMetadata, extract_page_metadata
from .pagetype import ARTICLE, OTHER, page_type
from .provenance import find_provenance

# Bump whenever the output for the same page can change: replays compare versions.
PARSER_VERSION = "parse/1.1.0"  # 1.1.0: the day a page shows beats a generic meta date
# Bytes beyond this are never looked at (a 20 MB page fits; the markup cap in dom.py then
# keeps the parsed part small).
MAX_INPUT_BYTES = 64 * 1024 * 1024


class ExtractionError(Exception):
    """No article can be made from this input; `reason` says why (it goes to the dead letter)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def extract_article(html: bytes | str, url: str | None = None, *, charset_hint: str | None = None,
                    time_limit_s: float = 10.0) -> dict[str, Any]:
    """The article in a page: title, lead, text (one paragraph per line), authors, dates,
    language, site, canonical and original URL, images, section, tags and the page type.

    Raises ExtractionError, and nothing else, when no article can be made or the time is up."""
    try:
        if time_limit_s and time_limit_s > 0:
            with time_limit(time_limit_s):
                return _extract(html, url, charset_hint)
        return _extract(html, url, charset_hint)
    except ExtractionError:
        raise
    except TimeLimitExceeded:
        raise ExtractionError(f"no result within the time limit of {time_limit_s}s") from None
    except (UndecodableInput, UnparsableMarkup) as exc:
        raise ExtractionError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - callers get one error type, with the cause attached
        raise ExtractionError(f"extractor failed: {type(exc).__name__}: {exc}") from exc


def _extract(html: bytes | str, url: str | None, charset_hint: str | None) -> dict[str, Any]:
    markup = _markup(html, charset_hint)
    tree = parse_html(markup)
    nodes = jsonld_nodes(tree)
    meta = extract_page_metadata(tree, url, nodes)
    text = extract_body(tree, url, meta.title, markup)
    kind = page_type(url, meta.og_type, nodes, text, tree)
    if not text and (kind in (ARTICLE, OTHER) or not meta.title):
        raise ExtractionError("no main text in the page")
    return _article(tree, url, nodes, meta, text, kind)


def _markup(html: bytes | str, charset_hint: str | None) -> str:
    if isinstance(html, (bytes, bytearray, memoryview)):
        data = bytes(html[:MAX_INPUT_BYTES])
        if not data.strip():
            raise ExtractionError("empty page")
        return decode_html(data, charset_hint)
    if not isinstance(html, str):
        raise ExtractionError(f"not a page: {type(html).__name__}")
    if not html.strip():
        raise ExtractionError("empty page")
    if looks_binary(html[:4096].encode("utf-8", errors="replace")):
        raise ExtractionError("binary data, not a text page")
    return html


def _article(tree: HtmlElement, url: str | None, nodes: list[dict[str, Any]], meta: PageMetadata,
             text: str, kind: str) -> dict[str, Any]:
    provenance = find_provenance(tree, url, meta.canonical_url, nodes)
    return {
        "title": meta.title,
        "lead": meta.lead,
        "text": text,
        "authors": meta.authors,
        # a re-publication often names only its source ("ZNews"): that is who wrote it
        "author": meta.authors[0] if meta.authors else provenance.source_name,
        # the day, as people filter and facet by it; the stated time of day, when there is one, beside it
        "published": meta.published[:10] if meta.published else None,
        "published_at": meta.published,
        "modified": meta.modified,
        "language": page_language(tree, text or meta.title or "", article_node(nodes)),
        "site_name": meta.site_name,
        "canonical_url": meta.canonical_url,
        "original_url": provenance.original_url,
        "images": article_images(tree, text, url, meta.image),
        "section": meta.section,
        "tags": meta.tags,
        "page_type": kind,
        "parser_version": PARSER_VERSION,
    }
