"""Money amounts: the seed's two amounts, and German and English forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.enrich.money import extract_money, parse_number

SEED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "seed-article" / "seed.txt"


def amounts(text: str, language: str) -> list[tuple[str, int | float, str]]:
    return [(m["text"], m["value"], m["currency"]) for m in extract_money(text, language)]


def test_seed_amounts():
    text = SEED.read_text(encoding="utf-8")
    found = extract_money(text, "de")
    assert [(m["value"], m["currency"]) for m in found] == [(100_000_000, "USD"), (14_000_000_000, "USD")]
    assert [m["text"] for m in found] == ["100 Millionen US-Dollar", "14-Milliarden-Dollar"]
    for m in found:
        assert text[m["offset"]:].startswith(m["text"])


@pytest.mark.parametrize("text, expected", [
    ("bis zu 100 Millionen US-Dollar", ("100 Millionen US-Dollar", 100_000_000, "USD")),
    ("der 14-Milliarden-Dollar-Deal", ("14-Milliarden-Dollar", 14_000_000_000, "USD")),
    ("für 3,5 Mrd. Euro", ("3,5 Mrd. Euro", 3_500_000_000, "EUR")),
    ("rund 2 Mio. € mehr", ("2 Mio. €", 2_000_000, "EUR")),
    ("kostet 1.500 Euro", ("1.500 Euro", 1500, "EUR")),
    ("1,250 Milliarden Dollar", ("1,250 Milliarden Dollar", 1_250_000_000, "USD")),
    ("20 Billionen Yen", ("20 Billionen Yen", 20 * 10**12, "JPY")),  # German Billion = 10^12
    ("CHF 30 Mio. Verlust", ("CHF 30 Mio.", 30_000_000, "CHF")),
    ("2,99 Euro pro Monat", ("2,99 Euro", 2.99, "EUR")),
])
def test_german_forms(text, expected):
    assert amounts(text, "de") == [expected]


@pytest.mark.parametrize("text, expected", [
    ("a $2.5 billion deal", ("$2.5 billion", 2_500_000_000, "USD")),
    ("paid €40m for it", ("€40m", 40_000_000, "EUR")),
    ("a £3bn loss", ("£3bn", 3_000_000_000, "GBP")),
    ("USD 5 million in fees", ("USD 5 million", 5_000_000, "USD")),
    ("5 million dollars", ("5 million dollars", 5_000_000, "USD")),
    ("priced at $1,200", ("$1,200", 1200, "USD")),
    ("US$68.7 billion", ("US$68.7 billion", 68_700_000_000, "USD")),
    ("one trillion yen? 2 trillion yen", ("2 trillion yen", 2 * 10**12, "JPY")),
])
def test_english_forms(text, expected):
    assert amounts(text, "en") == [expected]


def test_vague_amounts_and_lengths_are_not_money():
    assert extract_money("Hunderte Millionen Dollar, Milliarden von Dollar, 5 m lang", "de") == []
    assert extract_money("a 40m sprint and 3 billion people", "en") == []


def test_several_amounts_in_order():
    found = extract_money("Er zahlte 5 Mio. Euro und später $2 billion.", "de")
    assert [m["currency"] for m in found] == ["EUR", "USD"]
    assert found[0]["offset"] < found[1]["offset"]


@pytest.mark.parametrize("raw, language, scaled, value", [
    ("1.000.000", "de", False, 1_000_000), ("1,000,000", "en", False, 1_000_000),
    ("3,5", "de", True, 3.5), ("2.5", "en", True, 2.5), ("1.234,56", "de", False, 1234.56),
    ("1,234.56", "en", False, 1234.56), ("2.500", "de", False, 2500), ("1,250", "de", True, 1.25),
])
def test_parse_number(raw, language, scaled, value):
    assert float(parse_number(raw, language, scaled=scaled)) == value
