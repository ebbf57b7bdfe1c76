"""Title, lead, authors, dates, site name, canonical URL, section and tags of a page."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.settings import Document

from .datelines import labelled_dateline, microdata_published
from .jsonld import article_node, texts

_MAX_TAGS = 30
_MAX_TAG_CHARS = 80
_PUBLISHED_META = ("article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "last-modified", "lastmod")


@dataclass
class PageMetadata:
    title: str | None = None
    lead: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    og_type: str | None = None
    image: str | None = None


def extract_page_metadata(tree: HtmlElement, url: str | None, nodes: list[dict[str, Any]]) -> PageMetadata:
    """Metadata from meta tags, JSON-LD and markup: trafilatura's own steps, each search of the
    markup run only when the tags left the field empty (those searches cost most of the time)."""
    found = tagged_metadata(tree)
    article = article_node(nodes) or {}
    meta = meta_tags(tree)
    canonical = canonical_url(tree, url, meta)
    found.title = found.title or extract_title(tree)
    found.author = found.author or extract_author(tree)
    found.sitename = site_name(found.sitename or extract_sitename(tree))
    found.date = find_date(tree, url=canonical or url, original_date=True, extensive_search=True)
    if not stated_published(nodes, article, meta):
        found.date = shown_date(tree, canonical or url, found.date, meta, nodes)
    # section and tags only as the page states them: trafilatura's search of the markup found
    # sound ones on 3 benchmark pages in 88, for about 2 ms on every page
    section = first_text([*texts(article.get("articleSection")), meta.get("article:section"), *(found.categories or [])])
    found.categories = [section] if section else []
    found.tags = page_tags(article, meta, found.tags or [])
    found.clean_and_trim()
    return PageMetadata(
        title=found.title,
        lead=found.description,
        authors=split_authors(found.author),
        published=published_date(found.date, article.get("datePublished"), meta),
        modified=first_datetime([article.get("dateModified"), *(meta.get(k) for k in _MODIFIED_META)]),
        site_name=found.sitename,
        canonical_url=canonical,
        section=first_text(found.categories),
        tags=found.tags,
        og_type=(meta.get("og:type") or "").lower() or None,
        image=found.image,
    )


def tagged_metadata(tree: HtmlElement) -> Document:
    """What the page's <meta> tags and JSON-LD state, read by trafilatura."""
    found = examine_meta(tree)
    # a one-word "author" in meta tags is a site or a handle (trafilatura's rule)
    if found.author and " " not in found.author:
        found.author = None
    try:
        found = extract_meta_json(tree, found)
    except Exception:  # noqa: BLE001 - broken JSON-LD must not cost the rest of the metadata
        pass
    return found


def site_name(name: str | None) -> str | None:
    """"@nytimes" -> "nytimes"; a lower-case name without dots gets capitalised (trafilatura)."""
    name = (name or "").lstrip("@").strip()
    if name and "." not in name and not name[0].isupper():
        name = name.title()
    return name or None


def meta_tags(tree: HtmlElement) -> dict[str, str]:
    """<meta> values by lower-cased property/name/itemprop (first wins); all article:tag joined by ','."""
    values: dict[str, str] = {}
    article_tags: list[str] = []
    for element in tree.iterfind(".//meta[@content]"):
        key = element.get("property") or element.get("name") or element.get("itemprop") or element.get("http-equiv")
        content = (element.get("content") or "").strip()
        if not key or not content:
            continue
        key = key.strip().lower()
        if key == "article:tag":
            article_tags.append(content)
        values.setdefault(key, content)
    if article_tags:
        values["article:tag"] = ",".join(article_tags)
    return values


def split_authors(author: str | None) -> list[str]:
    """trafilatura joins several authors with '; '."""
    names = [name.strip() for name in (author or "").split(";")]
    return list(dict.fromkeys(name for name in names if name))


def published_date(found_date: str | None, jsonld_value: Any, meta: dict[str, str]) -> str | None:
    """htmldate's day, given with its time of day when the page states that same day's time."""
    stated = first_datetime([jsonld_value, *(meta.get(k) for k in _PUBLISHED_META)])
    if stated and (found_date is None or stated.startswith(found_date)):
        return stated
    return found_date


def stated_published(nodes: list[dict[str, Any]], article: dict[str, Any], meta: dict[str, str]) -> str | None:
    """The publication time the page states in a field made for it (JSON-LD datePublished,
    article:published_time and kin), if any."""
    return first_datetime([article.get("datePublished"), *(n.get("datePublished") for n in nodes),
                           *(meta.get(k) for k in _PUBLISHED_META)])


def shown_date(tree: HtmlElement, url: str | None, found_date: str | None, meta: dict[str, str],
               nodes: list[dict[str, Any]]) -> str | None:
    """For a page that states no publication time in its <meta> tags or JSON-LD: the day it
    shows (schema.org microdata, a labelled dateline), else htmldate's day from the markup
    alone, else htmldate's day."""
    shown = microdata_published(tree) or labelled_dateline(tree)
    if shown or not found_date:
        return shown or found_date
    if not dated_by_metadata(found_date, meta, nodes):
        return found_date  # htmldate read it from the markup already: the same search again finds it again
    return markup_date(tree, url) or found_date


def dated_by_metadata(day: str, meta: dict[str, str], nodes: list[dict[str, Any]]) -> bool:
    """Whether a <meta> value or the JSON-LD holds the day (as htmldate reads them first)."""
    return any(day in value for value in meta.values()) or day in json.dumps(nodes, default=str)


def markup_date(tree: HtmlElement, url: str | None) -> str | None:
    """htmldate's day from the page itself (its markup and text, and the URL) with the <meta>
    tags and JSON-LD left out.

    Without a stated publication time, htmldate takes the day from whatever <meta> carries a
    date (name="date", og:updated_time, analytics fields), which is often the last update or a
    UTC day, while the dateline the page shows readers is the original day in its own time zone.
    On the development set (htmldate's 799 pages) this day, where it differs, is right on 14
    pages and htmldate's on 7, before the dateline steps (bench/dates_bench.py, README.md)."""
    bare = copy.deepcopy(tree)
    for element in bare.xpath('//meta | //script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        element.getparent().remove(element)
    return find_date(bare, url=url, original_date=True, extensive_search=True)


def first_datetime(values: list[Any]) -> str | None:
    """The first value that is an ISO 8601 date or date-time, normalised."""
    for value in values:
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and (parsed := iso_datetime(value)):
            return parsed
    return None


def iso_datetime(value: str) -> str | None:
    """'2025-06-24T08:15:00+07:00' and kin -> ISO string; a bare date stays a date."""
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
    except ValueError:
        return None
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed.date().isoformat() if len(value) <= 10 else parsed.isoformat()


def canonical_url(tree: HtmlElement, url: str | None, meta: dict[str, str]) -> str | None:
    """The URL the page names as its own (rel=canonical, else og:url), made absolute."""
    links = tree.xpath('//link[contains(concat(" ", normalize-space(translate(@rel, "CANONIL", "canonil")), " "), " canonical ")]/@href')
    for candidate in [*links, meta.get("og:url")]:
        absolute = absolute_http_url(candidate, url)
        if absolute:
            return absolute
    return None


def absolute_http_url(candidate: str | None, base: str | None) -> str | None:
    """An http(s) URL, resolved against the page URL; None for anything else."""
    candidate = (candidate or "").strip()
    if not candidate:
        return None
    try:
        absolute = urljoin(base, candidate) if base else candidate
    except ValueError:
        return None
    return absolute if absolute.startswith(("http://", "https://")) and len(absolute) < 2048 else None


def page_tags(article: dict[str, Any], meta: dict[str, str], found_tags: list[str]) -> list[str]:
    """Tags from article:tag, JSON-LD keywords, news_keywords and page markup, de-duplicated."""
    candidates: list[str] = []
    for listed in (meta.get("article:tag"), meta.get("news_keywords")):
        candidates.extend((listed or "").split(","))
    for keyword in texts(article.get("keywords")):
        candidates.extend(keyword.split(","))
    candidates.extend(found_tags)
    tags: dict[str, str] = {}
    for tag in (c.strip() for c in candidates):
        if tag and len(tag) <= _MAX_TAG_CHARS:
            tags.setdefault(tag.casefold(), tag)
    return list(tags.values())[:_MAX_TAGS]


def first_text(values: list[str | None]) -> str | None:
    return next((v.strip() for v in values if isinstance(v, str) and v.strip()), None)
