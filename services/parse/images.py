"""The article's images with their captions.

Images are taken from the part of the page that holds the extracted body: the closest common
ancestor of the paragraphs found in the body text, up to the last of them. Teasers and
thumbnails further down the page are outside it.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from .metadata import absolute_http_url

MAX_IMAGES = 50
# A paragraph is recognised by its first characters (whitespace-normalised).
_KEY_CHARS = 60
_MIN_PARAGRAPH_CHARS = 40
# Tracking pixels, icons and spacers declare tiny sizes.
_MIN_SIDE_PX = 50
_DECORATION = re.compile(r"logo|icon|avatar|sprite|pixel|spacer|badge|emoji|button|banner|placeholder|loading", re.IGNORECASE)
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original", "data-url", "data-hi-res-src", "src")
_SRCSET_SOURCES = ("srcset", "data-srcset")


def article_images(tree: HtmlElement, body_text: str, page_url: str | None, lead_image: str | None) -> list[dict]:
    """[{url, caption}] of the body's images; the page's lead image first when the body has none
    of it (hero images often sit above the body)."""
    images: dict[str, dict] = {}
    region = body_region(tree, body_text)
    if region is not None:
        container, last_paragraph = region
        for img in _images_up_to(container, last_paragraph):
            _add(images, image_url(img, page_url), caption_of(img))
    lead = absolute_http_url(lead_image, page_url)
    if lead and _key(lead) not in images:
        images = {_key(lead): {"url": lead, "caption": None}, **images}
    return list(images.values())[:MAX_IMAGES]


def body_region(tree: HtmlElement, body_text: str) -> tuple[HtmlElement, HtmlElement] | None:
    """The closest common ancestor of the body's paragraphs, and the last of them."""
    keys = {_paragraph_key(line) for line in body_text.split("\n") if len(line) >= _MIN_PARAGRAPH_CHARS}
    matched = [p for p in tree.iter("p") if _paragraph_key(p.text_content()) in keys]
    if not matched:
        return None
    return common_ancestor(matched), matched[-1]


def common_ancestor(elements: list[HtmlElement]) -> HtmlElement:
    chain = list(elements[0].iterancestors())[::-1] + [elements[0]]
    depth = len(chain)
    for element in elements[1:]:
        ancestors = set(element.iterancestors()) | {element}
        while depth and chain[depth - 1] not in ancestors:
            depth -= 1
    return chain[max(depth - 1, 0)]


def image_url(img: HtmlElement, page_url: str | None) -> str | None:
    """The real picture of an <img>: lazy-loading attributes first, then src, then srcset."""
    for attribute in _LAZY_SOURCES:
        value = (img.get(attribute) or "").strip()
        if value and not value.startswith("data:"):
            return absolute_http_url(value, page_url)
    for attribute in _SRCSET_SOURCES:
        first = (img.get(attribute) or "").strip().split(",")[0].split()
        if first and not first[0].startswith("data:"):
            return absolute_http_url(first[0], page_url)
    return None


def caption_of(img: HtmlElement) -> str | None:
    """The enclosing figure's caption, else the image's alt or title text."""
    figure = next(img.iterancestors("figure"), None)
    caption = figure.find(".//figcaption") if figure is not None else None
    for text in (caption.text_content() if caption is not None else None, img.get("alt"), img.get("title")):
        text = " ".join((text or "").split())
        if text:
            return text
    return None


def _images_up_to(container: HtmlElement, last_paragraph: HtmlElement) -> list[HtmlElement]:
    """Content images in document order, stopping after the body's last paragraph."""
    found = []
    for element in container.iter("img", "p"):
        if element is last_paragraph:
            break
        if element.tag == "img" and not _is_decoration(element):
            found.append(element)
    return found


def _is_decoration(img: HtmlElement) -> bool:
    for side in ("width", "height"):
        value = (img.get(side) or "").strip().removesuffix("px")
        if value.isdigit() and int(value) < _MIN_SIDE_PX:
            return True
    described = " ".join(img.get(a) or "" for a in ("class", "id", "src"))
    return bool(_DECORATION.search(described))


def _add(images: dict[str, dict], url: str | None, caption: str | None) -> None:
    if url and url.rsplit(".", 1)[-1].lower() != "svg":
        images.setdefault(_key(url), {"url": url, "caption": caption})


def _key(url: str) -> str:
    """Same picture, whatever the query string (sizes, cache busters)."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _paragraph_key(text: str) -> str:
    return " ".join(text.split())[:_KEY_CHARS]
