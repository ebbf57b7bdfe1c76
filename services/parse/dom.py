"""Markup -> lxml tree, with the caps that keep every later step short on hostile pages."""

from __future__ import annotations

import re
import threading

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

# Real articles stay far below this once scripts and styles are gone (the largest of the 88
# benchmark pages has 0.2 MB left); markup beyond it is cut off rather than parsed, which
# bounds the extractors' time (about 5 s for 1 MB of nothing but paragraphs).
MAX_MARKUP_CHARS = 1_000_000
# Deeper elements are flattened into their ancestor at this depth: the extractors recurse
# over the tree, and no real layout nests this deep.
MAX_DEPTH = 180
# Blocks that hold no readable text: dropped first when a page is over the size cap.
# JSON-LD is kept, it carries the metadata.
_NON_TEXT_BLOCKS = (b"script", b"style", b"svg", b"noscript", b"template")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Tags that nest without bound in broken markup (unclosed <div>/<font>): removed, keeping
# their text, when the parser gives up on depth.
_NESTING_TAGS = re.compile(r"</?(?:div|span|font|b|i|u|em|strong|small|big|center|section|article|a|blockquote|ul|ol|li|table|tbody|tr|td)\b[^>]*>", re.IGNORECASE)

# lxml keeps at most 2048 levels with huge_tree (256 without), dropping all that follows.
# One parser per thread: lxml parsers must not be shared across threads.
_parsers = threading.local()


class UnparsableMarkup(ValueError):
    """No HTML tree could be built."""


def parse_html(markup: str) -> HtmlElement:
    """The page's tree; markup over the size cap is cut, what nests too deep is flattened."""
    markup = xml_safe(cap_markup(_XML_DECLARATION.sub("", markup, count=1)))
    if not markup.strip():
        raise UnparsableMarkup("empty page")
    tree = _parse(markup)
    if tree is None or _parser_gave_up_on_depth():
        tree = _parse(_NESTING_TAGS.sub(" ", markup))
    if tree is None:
        raise UnparsableMarkup("no HTML tree")
    flatten_deep_nesting(tree)
    return tree


def cap_markup(markup: str) -> str:
    """Fit markup under MAX_MARKUP_CHARS: drop non-text blocks, then cut the rest."""
    if len(markup) > MAX_MARKUP_CHARS:
        markup = drop_non_text_blocks(markup)
    return markup[:MAX_MARKUP_CHARS]


def xml_safe(markup: str) -> str:
    """Without NUL characters and lone surrogates, which make lxml stop or fail."""
    markup = markup.replace("\x00", "")
    try:
        markup.encode("utf-8")
    except UnicodeEncodeError:
        markup = markup.encode("utf-8", errors="replace").decode("utf-8")
    return markup


def drop_non_text_blocks(markup: str) -> str:
    """Remove <script>, <style> and similar blocks in one linear pass (no regex backtracking
    on huge pages); an unclosed block swallows the rest of the page, as in a browser."""
    # bytes.lower() touches ASCII only, so offsets in `lower` are offsets in `data`
    data = markup.encode("utf-8", errors="surrogatepass")
    lower = data.lower()
    openings = _BlockOpenings(lower)
    kept: list[bytes] = []
    pos = 0
    while (found := openings.next_at_or_after(pos)) is not None:
        start, tag = found
        kept.append(data[pos:start])
        end = lower.find(b"</" + tag, start)
        close = lower.find(b">", end) if end >= 0 else -1
        if close < 0:
            pos = len(data)
            break
        if tag == b"script" and b"ld+json" in lower[start:lower.find(b">", start)]:
            kept.append(data[start:close + 1])
        pos = close + 1
    kept.append(data[pos:])
    return b"".join(kept).decode("utf-8", errors="surrogatepass")


class _BlockOpenings:
    """Next opening tag of each non-text block, each searched again only once passed, so
    that the whole scan stays linear in the page size."""

    def __init__(self, lower: bytes) -> None:
        self._lower = lower
        self._next = {tag: lower.find(b"<" + tag) for tag in _NON_TEXT_BLOCKS}

    def next_at_or_after(self, pos: int) -> tuple[int, bytes] | None:
        for tag, found in self._next.items():
            if 0 <= found < pos:
                self._next[tag] = self._lower.find(b"<" + tag, pos)
        candidates = [(found, tag) for tag, found in self._next.items() if found >= 0]
        return min(candidates) if candidates else None


def flatten_deep_nesting(tree: HtmlElement) -> None:
    """Strip the tags below MAX_DEPTH, keeping their text in the element at that depth."""
    for element in tree.xpath("/" + "/".join(["*"] * MAX_DEPTH)):
        etree.strip_tags(element, "*")


def _parser() -> HTMLParser:
    if not hasattr(_parsers, "html"):
        _parsers.html = HTMLParser(collect_ids=False, default_doctype=False, remove_comments=True,
                                   remove_pis=True, huge_tree=True)
    return _parsers.html


def _parse(markup: str) -> HtmlElement | None:
    try:
        return document_fromstring(markup, parser=_parser())
    except (etree.ParserError, ValueError):
        return None


def _parser_gave_up_on_depth() -> bool:
    return any("Excessive depth" in entry.message for entry in _parser().error_log)
