"""What kind of page this is: an article, a home page, a list (tag, section, author, search),
a video page, or something else."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from .jsonld import is_article, node_types

ARTICLE, HOME, LIST, VIDEO, OTHER = "article", "home", "list", "video", "other"

_LIST_TYPES = {"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage"}
_LIST_SEGMENTS = {
    "tag", "tags", "topic", "topics", "category", "categories", "section", "sections", "author", "authors",
    "archive", "archives", "search", "page", "thema", "themen", "schlagwort", "rubrik", "autor",
    "chu-de", "tu-khoa", "tac-gia", "etiqueta", "categoria", "tema", "rubrique", "auteur", "mot-cle",
}
_VIDEO_SEGMENTS = {"video", "videos", "watch", "tv", "clip", "clips"}
# "/de/", "/en-us/", "/index.html": home pages of a site or of one of its languages.
_HOME_PATH = re.compile(r"^/?(?:[a-z]{2}(?:[-_][a-z]{2})?/?)?(?:index\.\w{2,5})?$", re.IGNORECASE)
# An article's last path segment is a slug of several words or carries an id.
_ARTICLE_SLUG = re.compile(r"(?:[^-_/]+[-_]){3,}|\d{5,}|\.s?html?$")
# Text that reads like an article: enough paragraphs of prose.
_MIN_PROSE_CHARS = 800
_MIN_PROSE_PARAGRAPHS = 3
_PROSE_PARAGRAPH_CHARS = 80
# A page whose text is mostly link text is a list of links.
_LIST_LINK_SHARE = 0.5


def page_type(url: str | None, og_type: str | None, nodes: list[dict[str, Any]], text: str, tree: HtmlElement) -> str:
    parts = urlsplit(url) if url else None
    path = parts.path if parts else None
    if _is_video(path, og_type, nodes, text):
        return VIDEO
    # "/?p=123" is an article of a site without pretty URLs, not its home page
    if parts and not parts.query and _HOME_PATH.match(parts.path):
        return HOME
    if og_type == "article" or any(is_article(node) for node in nodes):
        return ARTICLE
    if _is_listing(path, nodes) or link_share(tree) >= _LIST_LINK_SHARE:
        return LIST
    return ARTICLE if reads_like_article(text) else OTHER


def reads_like_article(text: str) -> bool:
    paragraphs = [line for line in text.split("\n") if len(line) >= _PROSE_PARAGRAPH_CHARS]
    return len(text) >= _MIN_PROSE_CHARS and len(paragraphs) >= _MIN_PROSE_PARAGRAPHS


def link_share(tree: HtmlElement) -> float:
    """Share of the page's visible text that sits inside links."""
    body = tree.find("body")
    if body is None:
        return 0.0
    total = _text_length(body.xpath(".//text()[not(ancestor::script or ancestor::style)]"))
    linked = _text_length(body.xpath(".//a//text()"))
    return linked / total if total else 0.0


def _is_video(path: str | None, og_type: str | None, nodes: list[dict[str, Any]], text: str) -> bool:
    # JSON-LD naming an article outweighs og:type: news sites tag articles with a lead video as video
    if any(is_article(node) for node in nodes):
        return False
    if (og_type or "").startswith("video") or any("VideoObject" in node_types(node) for node in nodes):
        return True
    return bool(_segments(path) & _VIDEO_SEGMENTS) and not reads_like_article(text)


def _is_listing(path: str | None, nodes: list[dict[str, Any]]) -> bool:
    if any(set(node_types(node)) & _LIST_TYPES for node in nodes):
        return True
    if not path:
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return bool(_segments(path) & _LIST_SEGMENTS) and not _ARTICLE_SLUG.search(last)


def _segments(path: str | None) -> set[str]:
    return {segment.lower() for segment in (path or "").split("/") if segment}


def _text_length(pieces: list[str]) -> int:
    return sum(len(piece.strip()) for piece in pieces)
