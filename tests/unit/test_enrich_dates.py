"""Dates mentioned in the text."""

from __future__ import annotations

from newsflow.enrich.dates import extract_dates


def dates(text: str, language: str) -> list[tuple[str, str]]:
    return [(d["text"], d["date"]) for d in extract_dates(text, language)]


def test_seed_sentence():
    text = "Yann LeCun, ein KI-Wissenschaftler bei Meta, der 2013 von Zuckerberg eingestellt wurde."
    [found] = extract_dates(text, "de")
    assert found == {"text": "2013", "date": "2013", "granularity": "year", "offset": text.index("2013")}


def test_german_forms():
    text = "Am 24. Juni 2025, am 3.3.2024 und im März 2024; seit 1999. Ende 2026 folgt 2013-05-01. ZNews24/06/2025"
    assert dates(text, "de") == [
        ("24. Juni 2025", "2025-06-24"), ("3.3.2024", "2024-03-03"), ("März 2024", "2024-03"),
        ("1999", "1999"), ("2026", "2026"), ("2013-05-01", "2013-05-01"), ("24/06/2025", "2025-06-24"),
    ]


def test_english_forms():
    text = "On June 24, 2025, on 4/25/2024 and 3 March 2024; in 2019 it had 2000 employees. Founded in May 2010."
    assert dates(text, "en") == [
        ("June 24, 2025", "2025-06-24"), ("4/25/2024", "2024-04-25"), ("3 March 2024", "2024-03-03"),
        ("2019", "2019"), ("May 2010", "2010-05"),
    ]


def test_counts_and_impossible_dates_are_not_dates():
    assert extract_dates("2000 Mitarbeiter und 1500 Euro; am 31.02.2024", "de") == []
    assert extract_dates("2000 employees", "en") == []


def test_german_function_words_are_not_weekdays():
    # dateparser's search_dates reads "mit" and "die" as Mittwoch and Dienstag.
    assert extract_dates("Gespräche mit Daniel Gross und die Ergebnisse", "de") == []
