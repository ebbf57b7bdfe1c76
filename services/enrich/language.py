"""Language identification with py3langid, whose model ships inside its wheel (no download)."""

from __future__ import annotations

import re
from functools import lru_cache

# Below this normalised probability the text is called undetermined rather than guessed.
MIN_CONFIDENCE = 0.5
# Identification on a long prefix is as good as on the whole text, and much faster.
MAX_CHARS = 5000
# Quotations are often in another language than the article ("We are very happy", sagte der
# Chef): the text around them decides, when enough of it is left.
_QUOTED = re.compile(r'"[^"\n]{12,}?"|“[^”\n]{12,}?”|„[^“”\n]{12,}?[“”]|«[^»\n]{12,}?»|»[^«\n]{12,}?«')
MIN_CHARS = 20


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> dict:
    """-> {"code": ISO 639-1 or None, "confidence": 0..1}"""
    sample = (text or "").strip()[:MAX_CHARS]
    if len(sample) < MIN_CHARS:
        return {"code": None, "confidence": 0.0}
    unquoted = _QUOTED.sub(" ", sample)
    if len(unquoted.strip()) >= MIN_CHARS:
        sample = unquoted
    code, probability = _identifier().classify(sample)
    confidence = round(float(probability), 4)
    return {"code": code if confidence >= MIN_CONFIDENCE else None, "confidence": confidence}
