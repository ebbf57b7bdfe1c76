"""One topic per article from a small fixed taxonomy (data/topics.yaml), by cue words.

    classify_topic(text, keywords, "de") -> {"topic": "technology", "scores": {"technology": 0.52, ...}}

A lexicon, not a model: it is deterministic, explainable in Kibana, costs microseconds and
needs no training data; the taxonomy and its cues are documented in data/topics.yaml.
Articles with too little evidence get "general".
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import regex
import yaml

GENERAL = "general"
_MIN_EVIDENCE = 3.0  # weighted cue hits below which no topic is claimed
_KEYWORD_WEIGHT = 3
_WORD = regex.compile(r"[\p{L}\p{N}]+")


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, dict]:
    """topic -> {"description": str, "de": [cues], "en": [cues], ...}"""
    return yaml.safe_load(Path(__file__).with_name("data").joinpath("topics.yaml").read_text(encoding="utf-8"))


def classify_topic(text: str, keywords: list[str], language: str) -> dict:
    cue_language = language if language in ("de", "en") else "en"
    index = _cue_index(cue_language)
    raw = _hits(text, index)
    for topic, hits in _hits(" . ".join(keywords), index).items():
        raw[topic] += _KEYWORD_WEIGHT * hits
    total = sum(raw.values())
    scores = {topic: round(value / total, 3) if total else 0.0 for topic, value in raw.items()}
    best = max(raw, key=lambda topic: (raw[topic], -list(raw).index(topic)))
    return {"topic": best if raw[best] >= _MIN_EVIDENCE else GENERAL, "scores": scores}


class _CueIndex:
    """Cues by kind, so that a text costs one pass over its distinct words."""

    def __init__(self, language: str):
        self.topics = list(taxonomy())
        self.german = language == "de"
        self.whole: dict[str, str] = {}  # short cues ("ki", "app") match whole words only
        self.prefix: dict[str, str] = {}
        self.phrases: list[tuple[regex.Pattern, str]] = []
        for topic, spec in taxonomy().items():
            for cue in spec.get(language, []):
                if " " in cue or "-" in cue:
                    phrase = " ".join(_WORD.findall(cue))
                    self.phrases.append((regex.compile(rf"(?<!\w){regex.escape(phrase)}(?!\w)"), topic))
                elif len(cue) < 4:
                    self.whole.setdefault(cue, topic)
                    self.whole.setdefault(cue + "s", topic)
                else:
                    self.prefix.setdefault(cue, topic)
        self.lengths = sorted({len(cue) for cue in self.prefix})


@lru_cache(maxsize=None)
def _cue_index(language: str) -> _CueIndex:
    return _CueIndex(language)


def _hits(text: str, index: _CueIndex) -> dict[str, float]:
    hits = dict.fromkeys(index.topics, 0.0)
    words = _WORD.findall(text.lower())
    for word, n in Counter(words).items():
        topic = index.whole.get(word) or _affix_topic(word, index)
        if topic:
            hits[topic] += n
    flat = " ".join(words)
    for pattern, topic in index.phrases:
        hits[topic] += len(pattern.findall(flat))
    return hits


def _affix_topic(word: str, index: _CueIndex) -> str | None:
    for length in index.lengths:
        if length > len(word):
            break
        topic = index.prefix.get(word[:length])
        # German compounds end in their head noun: "Risikokapitalfonds", "Fußballspieler".
        if topic is None and index.german and length >= 5:
            topic = index.prefix.get(word[-length:])
        if topic:
            return topic
    return None
