"""Keywords by yake-rust: the same choice as the reference Python YAKE, links left out, every
language served, safe across the enrich service's worker threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yake

from newsflow.enrich import keywords
from newsflow.enrich.keywords import extract_keywords

SEED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "seed-article" / "seed.txt"
ENGLISH = (
    "Volkswagen unveiled an all-electric car at the Los Angeles Auto Show on Tuesday. The electric "
    "car, built on the MEB platform, goes into production in 2022. Volkswagen said the electric "
    "platform would carry ten models. Analysts at the Auto Show said the platform lowers the cost "
    "of every electric model, and Volkswagen expects to sell a million electric cars a year."
)


def reference(text: str, language: str, top: int = 10) -> set[str]:
    """The Python package's top phrases, with the stage's own filtering after it."""
    extractor = yake.KeywordExtractor(lan=language, n=2, dedup_lim=0.7, top=top * 3)
    ranked = [p for p, _ in extractor.extract_keywords(keywords._prepare(text))]
    chosen, seen = [], []
    for phrase in ranked:
        tokens = keywords._normalised_tokens(phrase)
        if not tokens or all(t.isdigit() for t in tokens) or any(tokens & s for s in seen):
            continue
        chosen.append(phrase)
        seen.append(tokens)
    return set(chosen[:top])


def test_same_keywords_as_the_reference_yake():
    for text, language in ((ENGLISH, "en"), (SEED.read_text(encoding="utf-8"), "de")):
        ours = set(extract_keywords(text, language))
        theirs = reference(text, language)
        assert len(ours) == 10
        assert len(ours & theirs) >= 8, (ours, theirs)


def test_links_are_not_keywords():
    # A shopping list with a link under each item, as on a "deals" page.
    items = ["Star Wars Bomber", "Polistil Race Track", "Blade Runner Final Cut", "Ghostbusters Collection"]
    text = "\n".join(f"{i}) {item}\nhttp://amzn.to/2iJF{i}x\nwww.example-shop.co.uk/deal{i}" for i, item in enumerate(items))
    found = extract_keywords(ENGLISH + "\n" + text, "en")
    assert found and not any(w in k.lower() for k in found for w in ("http", "amzn", "www", "example-shop"))


def test_language_without_stop_words():
    # Korean has no stop-word list: yake-rust would panic if asked for one by name.
    text = "엘제이의 리벤지인가 류화영의 피해자 코스프레인가. 엘제이의 사진은 류화영의 추억을 말한다. 하지만 관계를 둘러싼 논란은 계속된다."
    assert extract_keywords(text, "ko")
    assert extract_keywords(ENGLISH, "und")


def test_threads_share_nothing():
    expected = extract_keywords(ENGLISH, "en")
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda _: extract_keywords(ENGLISH, "en"), range(16))) == [expected] * 16
