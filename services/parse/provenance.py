"""Where a re-published article comes from: its original URL and the source's name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from courlan import extract_domain
from lxml.html import HtmlElement

from .jsonld import article_node, texts
from .metadata import absolute_http_url

# "Source:" in the languages of the sites we read: the words before the colon of a credit line.
_SOURCE_LABELS = {
    "source", "sources", "original source", "quelle", "quellen", "nguồn", "nguon", "fuente", "fonte", "bron",
    "kilde", "källa", "lähde", "źródło", "zdroj", "forrás", "sursa", "kaynak", "πηγή", "источник", "джерело",
    "izvor", "sumber", "出典", "来源", "來源", "出处", "出處", "출처",
}
_COLON = re.compile(r"[:：]")
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")
# A source line is a short credit, not a paragraph that happens to start with "Source:".
_MAX_SOURCE_LINE_CHARS = 300
_MAX_SOURCE_NAME_CHARS = 80
# Text pieces with a colon, outside image captions (photo credits are not the article's source).
_CANDIDATES_XPATH = "//body//text()[contains(., ':') or contains(., '：')][not(ancestor::figure or ancestor::figcaption)]"
_INLINE_TAGS = {"strong", "b", "em", "i", "span", "label", "small", "font"}


@dataclass
class Provenance:
    original_url: str | None = None
    source_name: str | None = None


def find_provenance(tree: HtmlElement, url: str | None, canonical: str | None, nodes: list[dict[str, Any]]) -> Provenance:
    """The original of a re-publication: JSON-LD isBasedOn, an original-source link, a
    "Source:" line, or a canonical link to another site, in that order of trust."""
    line_url, source_name = source_line(tree, url)
    candidates = [
        *texts((article_node(nodes) or {}).get("isBasedOn"), "url"),
        *texts((article_node(nodes) or {}).get("isBasedOnUrl"), "url"),
        *tree.xpath('//link[@rel="original-source"]/@href'),
        *tree.xpath('//meta[@name="original-source" or @name="syndication-source"]/@content'),
        line_url,
        canonical if other_site(canonical, url) else None,
    ]
    for candidate in candidates:
        absolute = absolute_http_url(candidate, url)
        if absolute and not same_page(absolute, url):
            return Provenance(absolute, source_name)
    return Provenance(None, source_name)


def source_line(tree: HtmlElement, url: str | None) -> tuple[str | None, str | None]:
    """The link (to another site) and the name given by a "Source: ..." credit line."""
    first_name = None
    for piece in tree.xpath(_CANDIDATES_XPATH):
        label = _COLON.split(piece, maxsplit=1)[0]
        if " ".join(label.split()).lower() not in _SOURCE_LABELS:
            continue
        line = _credit_line(piece)
        text = " ".join(line.text_content().split())
        if len(text) > _MAX_SOURCE_LINE_CHARS:
            continue
        rest = _COLON.split(text, maxsplit=1)[-1]
        first_name = first_name or _source_name(rest)
        link = _external_link(line, url) or _external_url_in(rest, url)
        if link:
            return link, first_name
    return None, first_name


def _credit_line(piece: Any) -> HtmlElement:
    """The block holding a text piece: its element, or the block around an inline label."""
    element = piece.getparent()
    if piece.is_tail or element.tag in _INLINE_TAGS:
        element = element.getparent() if element.getparent() is not None else element
    return element


def other_site(candidate: str | None, url: str | None) -> bool:
    """True when both URLs are known and belong to different registered domains."""
    if not candidate or not url:
        return False
    theirs, ours = extract_domain(candidate), extract_domain(url)
    return bool(theirs and ours and theirs != ours)


def same_page(candidate: str, url: str | None) -> bool:
    return bool(url) and candidate.rstrip("/") == url.rstrip("/")


def _source_name(rest: str) -> str | None:
    """"ZNews" from "Source: ZNews"; nothing when the credit is only a URL or a sentence."""
    name = rest.strip(" .,;")
    return name if name and len(name) <= _MAX_SOURCE_NAME_CHARS and "://" not in name else None


def _external_link(line: HtmlElement, url: str | None) -> str | None:
    for href in line.xpath(".//a/@href"):
        absolute = absolute_http_url(href, url)
        if absolute and (url is None or other_site(absolute, url)):
            return absolute
    return None


def _external_url_in(text: str, url: str | None) -> str | None:
    for match in _URL_IN_TEXT.finditer(text):
        candidate = match.group(0).rstrip(".,;)")
        if url is None or other_site(candidate, url):
            return candidate
    return None
