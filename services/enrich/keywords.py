"""Keywords of an article with YAKE (unsupervised, statistical, stop-word lists in the wheel)."""

from __future__ import annotations

import threading
from functools import lru_cache

import regex
import yake

# YAKE ships stop words for these; other languages run without stop words ("noLang").
_YAKE_LANGUAGES = frozenset(
    "ar bg br cz da de el en es et fa fi fr hi hr hu hy id it ja lt lv nl no pl pt ro ru sk sl sv tr uk zh".split()
)
# Longer n-grams come out as sentence fragments on news text ("Millionen Dollar auszugeben").
_MAX_NGRAM = 2
_GENITIVE = regex.compile(r"(?:'s|’s|s)$")
_lock = threading.Lock()


@lru_cache(maxsize=None)
def _extractor(language: str, top: int) -> yake.KeywordExtractor:
    # Asked for more than `top`: near-duplicates are dropped afterwards.
    lan = language if language in _YAKE_LANGUAGES else "noLang"
    return yake.KeywordExtractor(lan=lan, n=_MAX_NGRAM, dedup_lim=0.7, top=top * 3)


def extract_keywords(text: str, language: str, top: int = 10) -> list[str]:
    """The `top` most relevant phrases, best first, no two sharing a word."""
    if not text.strip():
        return []
    with _lock:  # one extractor object per language is shared; keep calls serial
        ranked = [phrase for phrase, _score in _extractor(language, top).extract_keywords(_end_lines(text))]
    chosen: list[str] = []
    seen: list[set[str]] = []
    for phrase in ranked:
        tokens = _normalised_tokens(phrase)
        if not tokens or all(t.isdigit() for t in tokens):
            continue
        # A phrase sharing a word with a better one adds little ("Zuckerberg" after "Mark
        # Zuckerberg", "Hunderte Millionen" after "Millionen Dollar"): ten distinct ones instead.
        if any(tokens & earlier for earlier in seen):
            continue
        chosen.append(phrase)
        seen.append(tokens)
        if len(chosen) == top:
            break
    return chosen


def _end_lines(text: str) -> str:
    """Ends headings and captions with a full stop, so no phrase spans a title and the lead."""
    return "\n".join(
        line if not line.strip() or line.rstrip()[-1] in ".!?:;\"'“”»«" else line.rstrip() + "."
        for line in text.splitlines()
    )


def _normalised_tokens(phrase: str) -> set[str]:
    return {_GENITIVE.sub("", t) if len(t) > 4 else t for t in phrase.lower().split()}
