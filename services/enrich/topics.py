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
    raw: dict[str, float] = {}
    for topic, spec in taxonomy().items():
        cues = spec.get(cue_language, [])
        raw[topic] = _hits(text, cues, cue_language) + _KEYWORD_WEIGHT * _hits(" . ".join(keywords), cues, cue_language)
    total = sum(raw.values())
    scores = {topic: round(value / total, 3) if total else 0.0 for topic, value in raw.items()}
    best = max(raw, key=lambda topic: (raw[topic], -list(raw).index(topic)))
    return {"topic": best if raw[best] >= _MIN_EVIDENCE else GENERAL, "scores": scores}


def _hits(text: str, cues: list[str], language: str) -> int:
    lowered = text.lower()
    words = Counter(_WORD.findall(lowered))
    flat = " ".join(_WORD.findall(lowered))
    hits = 0
    for cue in cues:
        if " " in cue or "-" in cue:
            phrase = " ".join(_WORD.findall(cue))
            hits += len(regex.findall(rf"(?<!\w){regex.escape(phrase)}(?!\w)", flat))
        else:
            hits += sum(n for word, n in words.items() if _matches(word, cue, language))
    return hits


def _matches(word: str, cue: str, language: str) -> bool:
    if len(cue) < 4:  # short cues ("ki", "app", "war") only as whole words
        return word == cue or word == cue + "s"
    if word.startswith(cue):
        return True
    # German compounds end in their head noun: "Risikokapitalfonds", "Fußballspieler".
    return language == "de" and len(cue) >= 5 and word.endswith(cue)
