"""Markup -> lxml tree, with the caps that keep every later step short on hostile pages."""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

# Real articles stay far below this once scripts and styles are gone (the largest of the 88
# benchmark pages has 0.2 MB left); markup beyond it is cut off rather than parsed.
MAX_MARKUP_CHARS = 2_000_000
# Deeper elements are flattened into their ancestor at this depth: the extractors recurse
# over the tree, and no real layout nests this deep.
MAX_DEPTH = 180
# Blocks that hold no readable text: dropped first when a page is over the size cap.
# JSON-LD is kept, it carries the metadata.
_NON_TEXT_BLOCKS = ("script", "style", "svg", "noscript", "template")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Tags that nest without bound in broken markup (unclosed <div>/<font>): removed, keeping
# their text, when the parser gives up on depth.
_NESTING_TAGS = re.compile(r"</?(?:div|span|font|b|i|u|em|strong|small|big|center|section|article|a|blockquote|ul|ol|li|table|tbody|tr|td)\b[^>]*>", re.IGNORECASE)

# lxml keeps at most 2048 levels with huge_tree (256 without), dropping all that follows.
_PARSER = HTMLParser(collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True, huge_tree=True)


class UnparsableMarkup(ValueError):
    """No HTML tree could be built."""


def parse_html(markup: str) -> tuple[HtmlElement, bool]:
    """The page's tree and whether the markup had to be cut to fit the size cap."""
    markup, truncated = cap_markup(_XML_DECLARATION.sub("", markup, count=1))
    if not markup.strip():
        raise UnparsableMarkup("empty page")
    tree = _parse(markup)
    if tree is None or _parser_gave_up_on_depth():
        tree = _parse(_NESTING_TAGS.sub(" ", markup))
    if tree is None:
        raise UnparsableMarkup("no HTML tree")
    flatten_deep_nesting(tree)
    return tree, truncated


def cap_markup(markup: str) -> tuple[str, bool]:
    """Fit markup under MAX_MARKUP_CHARS: drop non-text blocks, then cut the rest."""
    if len(markup) <= MAX_MARKUP_CHARS:
        return markup, False
    markup = drop_non_text_blocks(markup)
    if len(markup) <= MAX_MARKUP_CHARS:
        return markup, False
    return markup[:MAX_MARKUP_CHARS], True


def drop_non_text_blocks(markup: str) -> str:
    """Remove <script>, <style> and similar blocks in one linear pass (no regex backtracking
    on huge pages); an unclosed block swallows the rest of the page, as in a browser."""
    lower = markup.lower()
    kept: list[str] = []
    pos = 0
    while True:
        start, tag = _next_block(lower, pos)
        if start < 0:
            kept.append(markup[pos:])
            return "".join(kept)
        kept.append(markup[pos:start])
        end = lower.find(f"</{tag}", start)
        close = lower.find(">", end) if end >= 0 else -1
        if close < 0:
            return "".join(kept)
        if tag == "script" and "ld+json" in lower[start:lower.find(">", start)]:
            kept.append(markup[start:close + 1])
        pos = close + 1


def _next_block(lower: str, pos: int) -> tuple[int, str]:
    """The earliest opening tag of a non-text block at or after pos."""
    best, best_tag = -1, ""
    for tag in _NON_TEXT_BLOCKS:
        found = lower.find(f"<{tag}", pos)
        if found >= 0 and (best < 0 or found < best):
            best, best_tag = found, tag
    return best, best_tag


def flatten_deep_nesting(tree: HtmlElement) -> None:
    """Strip the tags below MAX_DEPTH, keeping their text in the element at that depth."""
    for element in tree.xpath("/" + "/".join(["*"] * MAX_DEPTH)):
        etree.strip_tags(element, "*")


def _parse(markup: str) -> HtmlElement | None:
    try:
        return document_fromstring(markup, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None


def _parser_gave_up_on_depth() -> bool:
    return any("Excessive depth" in entry.message for entry in _PARSER.error_log)
