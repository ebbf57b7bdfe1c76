"""Language identification with py3langid, whose model ships inside its wheel (no download)."""

from __future__ import annotations

from functools import lru_cache

# Below this normalised probability the text is called undetermined rather than guessed.
MIN_CONFIDENCE = 0.5
# Identification on a long prefix is as good as on the whole text, and much faster.
MAX_CHARS = 5000


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> dict:
    """-> {"code": ISO 639-1 or None, "confidence": 0..1}"""
    sample = (text or "").strip()[:MAX_CHARS]
    if len(sample) < 20:
        return {"code": None, "confidence": 0.0}
    code, probability = _identifier().classify(sample)
    confidence = round(float(probability), 4)
    return {"code": code if confidence >= MIN_CONFIDENCE else None, "confidence": confidence}
