"""The page's schema.org JSON-LD, flattened to a list of objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lxml.html import HtmlElement

# schema.org types that make a page an article (NewsArticle, BlogPosting, ReportageNewsArticle...)
ARTICLE_TYPE_WORDS = ("Article", "BlogPosting", "Report", "NewsArticle", "LiveBlogPosting")
# Bounds against hostile pages: a few blocks of reasonable size.
_MAX_BLOCKS = 20
_MAX_BLOCK_CHARS = 500_000
_MAX_NODES = 500


def jsonld_nodes(tree: HtmlElement) -> list[dict[str, Any]]:
    """Every JSON object in the page's ld+json blocks, @graph members included, in page order."""
    nodes: list[dict[str, Any]] = []
    blocks = tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]')
    for script in blocks[:_MAX_BLOCKS]:
        data = _load(script.text or "")
        nodes.extend(_objects(data))
        if len(nodes) >= _MAX_NODES:
            break
    return nodes[:_MAX_NODES]


def node_types(node: dict[str, Any]) -> list[str]:
    """The schema.org type names of a node ("NewsArticle", ...), without any URL prefix."""
    types = node.get("@type")
    types = types if isinstance(types, list) else [types]
    return [t.rsplit("/", 1)[-1] for t in types if isinstance(t, str)]


def is_article(node: dict[str, Any]) -> bool:
    return any(word in t for t in node_types(node) for word in ARTICLE_TYPE_WORDS)


def article_node(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The node describing the page's article, if the page has one."""
    return next((n for n in nodes if is_article(n)), None)


def texts(value: Any, key: str = "name") -> list[str]:
    """Strings held by a JSON-LD value: a string, an object's `key`, or a list of those."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get(key) or (item.get("@id") if key == "url" else None)
        if isinstance(item, str) and item.strip():
            found.append(item.strip())
    return found


def _load(raw: str) -> Any:
    raw = raw.strip()
    if not raw or len(raw) > _MAX_BLOCK_CHARS:
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        return None
    except ValueError:
        # common breakage: raw newlines or tabs inside strings
        try:
            return json.loads(raw.replace("\n", " ").replace("\r", " ").replace("\t", " "))
        except (ValueError, RecursionError):
            return None


def _objects(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if isinstance(data, list) and depth < 3:
        for item in data[:_MAX_NODES]:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if isinstance(graph, list):
            yield from (item for item in graph[:_MAX_NODES] if isinstance(item, dict))
