"""Keywords (YAKE) and the topic taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.enrich.keywords import extract_keywords
from newsflow.enrich.topics import GENERAL, classify_topic, taxonomy

SEED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "seed-article" / "seed.txt"
EXPECTED_TOPICS = {"technology", "artificial intelligence", "business"}


def seed_article() -> str:
    text = SEED.read_text(encoding="utf-8")
    return text[text.index("Mark Zuckerbergs seltsame Aktionen") : text.index("Quelle:")]


def test_seed_keywords():
    keywords = extract_keywords(seed_article(), "de")
    assert len(keywords) == 10
    assert keywords == extract_keywords(seed_article(), "de")  # deterministic
    assert "Meta" in keywords
    assert any("Zuckerberg" in k for k in keywords)
    # No two keywords share a word: "Zuckerberg" does not repeat "Mark Zuckerberg".
    words = [w.lower() for k in keywords for w in k.split()]
    assert len(words) == len(set(words))


def test_keywords_top_and_empty():
    assert extract_keywords("", "de") == []
    assert len(extract_keywords(seed_article(), "de", top=3)) == 3


def test_seed_topic():
    text = seed_article()
    result = classify_topic(text, extract_keywords(text, "de"), "de")
    assert result["topic"] in EXPECTED_TOPICS
    assert set(result["scores"]) == set(taxonomy())
    assert abs(sum(result["scores"].values()) - 1) < 0.01


@pytest.mark.parametrize("text, language, topic", [
    ("Bayern München gewann das Spiel gegen Dortmund mit 3:1. Der Trainer lobte die Mannschaft und "
     "die Tore in der Bundesliga.", "de", "sport"),
    ("The government lost a vote in parliament on Tuesday; the opposition party called for an early "
     "election and the prime minister faced his own coalition.", "en", "politics"),
    ("Researchers at the university published a study in which scientists used a particle experiment "
     "to discover a new physics effect.", "en", "science"),
    ("Das Krankenhaus meldete mehr Patienten mit dem Virus; Ärzte empfehlen die Impfung.", "de", "health"),
    ("Microsoft agreed to buy Activision Blizzard for $68.7 billion, the largest acquisition deal in the "
     "company's history, pending review by investors.", "en", "business"),
    ("OpenAI released a new language model and an app; the software runs in the cloud on Nvidia chips.",
     "en", "technology"),
])
def test_topics(text, language, topic):
    assert classify_topic(text, extract_keywords(text, language), language)["topic"] == topic


def test_too_little_evidence_is_general():
    assert classify_topic("Hello world.", [], "en")["topic"] == GENERAL


def test_taxonomy_is_documented():
    for topic, spec in taxonomy().items():
        assert spec["description"] and spec["de"] and spec["en"], topic
