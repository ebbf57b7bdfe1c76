"""Dates mentioned in the text."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("sentence", [
    "Die Firma stellte 2000 neue Mitarbeiter ein.",
    "Rund 1990 kleine Händler mussten im Winter schließen.",
    "Der Verein zählt inzwischen 1990 aktive Mitglieder.",
    "Etwa 2000 Menschen demonstrierten vor dem Rathaus.",
    "Nach dem Sturm waren knapp 2000 Haushalte ohne Strom.",
])
def test_german_counts_before_an_adjective_or_after_an_amount_word_are_not_years(sentence):
    assert extract_dates(sentence, "de") == []


@pytest.mark.parametrize("sentence, year", [
    ("Das Werk wurde 2013 von einem Konkurrenten übernommen.", "2013"),
    ("Die Partei hat 2013 die Wahl knapp verloren.", "2013"),
    ("Die Arbeitslosigkeit stieg 2009 deutlich.", "2009"),
    ("Seit 2013 gelten neue Regeln.", "2013"),
    ("Die Mauer fiel 1989, die Einheit folgte 1990.", "1990"),
])
def test_german_years_stay_years(sentence, year):
    assert year in [found["date"] for found in extract_dates(sentence, "de")]


def test_english_amounts_are_not_years():
    assert extract_dates("About 1990 small traders closed last winter.", "en") == []
    assert extract_dates("The firm hired 2000 new workers.", "en") == []
    assert [d["date"] for d in extract_dates("The wall fell in 1989.", "en")] == ["1989"]
