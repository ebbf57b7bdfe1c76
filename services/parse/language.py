"""The article's language (ISO 639-1): what the text is written in, else what the page declares."""

from __future__ import annotations

import re
from typing import Any, Callable

from lxml.html import HtmlElement

from ..core.language import classify

# Identification reads this much of the body: enough to be sure, bounded in time.
SAMPLE_CHARS = 1000
# A text this long, identified with this confidence, overrides a declared language: site
# templates often declare one language for pages in several.
TRUST_TEXT_FROM_CHARS = 200
TRUST_TEXT_CONFIDENCE = 0.9
# Shorter or less certain, the text decides only when the page declares nothing.
FALLBACK_CONFIDENCE = 0.5
_LANGUAGE_CODE = re.compile(r"^([a-zA-Z]{2,3})(?:$|[-_])")


def page_language(tree: HtmlElement, text: str, article: dict[str, Any] | None,
                  identify: Callable[[str], tuple[str | None, float]] | None = None) -> str | None:
    """`identify`: another identifier (text -> code, probability), for the benchmark's baseline."""
    declared = declared_language(tree, article)
    detected, confidence = (identify or identify_text)(text)
    if detected and len(text) >= TRUST_TEXT_FROM_CHARS and confidence >= TRUST_TEXT_CONFIDENCE:
        return detected
    if declared:
        return declared
    return detected if confidence >= FALLBACK_CONFIDENCE else None


def declared_language(tree: HtmlElement, article: dict[str, Any] | None) -> str | None:
    """<html lang>, Content-Language, og:locale or JSON-LD inLanguage, as a 2-letter code."""
    candidates = [
        tree.get("lang"),
        tree.get("xml:lang"),
        *tree.xpath('//meta[translate(@http-equiv, "CONTENT-LANGUAGE", "content-language")="content-language"]/@content'),
        *tree.xpath('//meta[@property="og:locale"]/@content'),
        (article or {}).get("inLanguage") if isinstance((article or {}).get("inLanguage"), str) else None,
    ]
    for candidate in candidates:
        code = language_code(candidate)
        if code:
            return code
    return None


def language_code(value: str | None) -> str | None:
    """'de-DE', 'de_DE', 'DE' -> 'de'; None for anything that is not a language tag."""
    match = _LANGUAGE_CODE.match((value or "").strip())
    if not match or len(match.group(1)) != 2:
        return None
    return match.group(1).lower()


def identify_text(text: str) -> tuple[str | None, float]:
    """The best language for the text and its probability (fastText, as enrich: core/language.py)."""
    sample = text[:SAMPLE_CHARS]
    if not sample.strip():
        return None, 0.0
    language, confidence = classify(sample)
    return language_code(language), min(float(confidence), 1.0)
