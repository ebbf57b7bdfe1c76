"""The article's body text, boilerplate removed (trafilatura, tuned for precision)."""

from __future__ import annotations

import re

import trafilatura
from lxml.html import HtmlElement

# Below this many characters the fast pass probably missed the article: the full cascade
# (readability and justext fallbacks) runs too. On the benchmark the fallbacks change the
# result of one page in 88, so running them always would double the cost for nothing.
FULL_CASCADE_BELOW_CHARS = 500

# Settings measured on the benchmark: precision mode drops the related-links and teaser
# blocks that defaults keep; reader comments are not part of an article's body.
_SETTINGS = {"favor_precision": True, "include_comments": False, "include_tables": True}
# When precision mode finds nothing, trafilatura's balanced defaults: a page that trafilatura
# can extract (and htmldate can date) is not refused as "no article" (8 of 799 on the dates set).
_FALLBACK_SETTINGS = {"include_comments": False, "include_tables": True}
_WORDS = re.compile(r"\w+")


def extract_body(tree: HtmlElement, url: str | None, title: str | None, markup: str | None = None) -> str:
    """Body text, one paragraph per line; empty when the page holds no main text. `markup`, the
    page's decoded HTML, lets the last try parse it trafilatura's own way."""
    text = _run_trafilatura(tree, url, fast=True)
    if len(text) < FULL_CASCADE_BELOW_CHARS:
        text = max(text, _run_trafilatura(tree, url, fast=False), key=len)
    if not text:
        text = _run_trafilatura(tree if markup is None else markup, url, fast=False, settings=_FALLBACK_SETTINGS)
    return drop_leading_title(text, title)


def drop_leading_title(text: str, title: str | None) -> str:
    """The headline is metadata, not body: drop it when the body starts with it."""
    if not title:
        return text
    first, _, rest = text.partition("\n")
    return rest if _words(first) == _words(title) else text


def _run_trafilatura(tree: HtmlElement | str, url: str | None, *, fast: bool, settings: dict | None = None) -> str:
    # a tree given to trafilatura is copied before it is cleaned: ours stays intact
    document = trafilatura.bare_extraction(tree, url=url, fast=fast, **(settings or _SETTINGS))
    return (document.text or "").strip() if document is not None else ""


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())
