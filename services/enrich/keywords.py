"""Keywords of an article with YAKE (unsupervised, statistical), computed by yake-rust: the
same algorithm as the reference Python package `yake`, compiled, with the same stop-word lists
inside the wheel, and it releases the GIL. On the article-extraction dev set it picks the same
keywords as the Python package (see README, "Enrichment": overlap of the top 10) at about a
quarter of the time.
"""

from __future__ import annotations

import threading

import regex
import yake_rust

# Languages with a stop-word list in yake-rust (the same lists as the Python package); other
# languages run without stop words, as the Python package's "noLang".
_YAKE_LANGUAGES = frozenset(
    "ar bg br cz da de el en es et fa fi fr hi hr hu hy id it ja lt lv nl no pl pt ro ru sk sl sv tr uk zh".split()
)
# Longer n-grams come out as sentence fragments on news text ("Millionen Dollar auszugeben").
_MAX_NGRAM = 2
_DEDUP = 0.7
_GENITIVE = regex.compile(r"(?:'s|’s|s)$")
# yake-rust's tokeniser splits a link into words ("http", "amzn.to"); the Python package kept
# it whole and ranked it low. Links say nothing about the article's subject: left out.
_LINK = regex.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S*", regex.IGNORECASE)
_local = threading.local()


def _extractor(language: str) -> yake_rust.Yake:
    # One extractor per language and thread: cheap to make, and no lock is needed around it.
    cache = _local.__dict__.setdefault("extractors", {})
    if language not in cache:
        if language in _YAKE_LANGUAGES:
            cache[language] = yake_rust.Yake(language=language, ngrams=_MAX_NGRAM, deduplication_threshold=_DEDUP)
        else:
            cache[language] = yake_rust.Yake(stopwords=set(), ngrams=_MAX_NGRAM, deduplication_threshold=_DEDUP)
    return cache[language]


def extract_keywords(text: str, language: str, top: int = 10) -> list[str]:
    """The `top` most relevant phrases, best first, no two sharing a word."""
    if not text.strip():
        return []
    # Asked for more than `top`: near-duplicates are dropped afterwards.
    ranked = [phrase for phrase, _score in _extractor(language).get_n_best(_prepare(text), n=top * 3)]
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


def _prepare(text: str) -> str:
    return _end_lines(_LINK.sub(" ", text))


def _end_lines(text: str) -> str:
    """Ends headings and captions with a full stop, so no phrase spans a title and the lead."""
    return "\n".join(
        line if not line.strip() or line.rstrip()[-1] in ".!?:;\"'“”»«" else line.rstrip() + "."
        for line in text.splitlines()
    )


def _normalised_tokens(phrase: str) -> set[str]:
    return {_GENITIVE.sub("", t) if len(t) > 4 else t for t in phrase.lower().split()}
