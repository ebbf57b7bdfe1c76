"""Money amounts in German and English text, with ISO currency and normalised value.

    extract_money("… bis zu 100 Millionen US-Dollar …", "de")
    -> [{"text": "100 Millionen US-Dollar", "value": 100000000, "currency": "USD", "offset": 42}]

Two shapes cover news prose: currency first ("$2.5 billion", "€40m", "USD 5 Mio.") and
currency last ("3,5 Mrd. Euro", "14-Milliarden-Dollar", "5 million dollars"). Vague amounts
without a number ("Milliarden von Dollar") are left out: they have no value.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

import regex

# German "Billion" is 10^12, English "billion" 10^9: the scale words are per language.
_SCALES = {
    "de": {"tausend": 3, "tsd": 3, "mio": 6, "million": 6, "millionen": 6, "mrd": 9, "milliarde": 9,
           "milliarden": 9, "billion": 12, "billionen": 12},
    "en": {"thousand": 3, "million": 6, "millions": 6, "mln": 6, "billion": 9, "billions": 9, "bln": 9,
           "trillion": 12, "trillions": 12},
}
# Glued to the number only ("€40m", "$2.5bn"): apart, "5 m" is a length.
_SHORT_SCALES = {"k": 3, "m": 6, "mn": 6, "b": 9, "bn": 9, "tn": 12}

_SYMBOLS = {"US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₫": "VND", "₹": "INR", "₩": "KRW",
            "C$": "CAD", "A$": "AUD", "HK$": "HKD", "S$": "SGD", "NT$": "TWD", "CHF": "CHF", "Fr.": "CHF"}
_CODES = ("USD", "EUR", "GBP", "JPY", "CNY", "CHF", "VND", "RUB", "INR", "KRW", "CAD", "AUD", "HKD", "SGD", "TWD")
_WORDS = {
    "US-Dollar": "USD", "US-Dollars": "USD", "US dollars": "USD", "US dollar": "USD", "U.S. dollars": "USD",
    "Dollar": "USD", "Dollars": "USD", "dollars": "USD", "dollar": "USD",
    "kanadische Dollar": "CAD", "Canadian dollars": "CAD", "australische Dollar": "AUD", "Australian dollars": "AUD",
    "Hongkong-Dollar": "HKD", "Hong Kong dollars": "HKD", "Singapur-Dollar": "SGD", "Singapore dollars": "SGD",
    "Taiwan-Dollar": "TWD",
    "Euro": "EUR", "Euros": "EUR", "euros": "EUR", "euro": "EUR",
    "Pfund Sterling": "GBP", "Pfund": "GBP", "pounds sterling": "GBP", "pounds": "GBP", "pound": "GBP",
    "Yen": "JPY", "yen": "JPY", "Yuan": "CNY", "yuan": "CNY", "Renminbi": "CNY", "renminbi": "CNY",
    "Franken": "CHF", "Swiss francs": "CHF", "Dong": "VND", "dong": "VND",
    "Rubel": "RUB", "roubles": "RUB", "rubles": "RUB", "Rupien": "INR", "Rupie": "INR", "rupees": "INR",
}
_NUMBER = r"\d{1,3}(?:[.,\u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_END = r"(?![\p{L}\p{N}])"


def _alternation(words) -> str:
    return "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))


@lru_cache(maxsize=None)
def _patterns(language: str) -> tuple[regex.Pattern, regex.Pattern]:
    scales = _SCALES.get(language, _SCALES["en"])
    scale = rf"(?:{_alternation(scales)})\.?"
    short = _alternation(_SHORT_SCALES)
    symbol = _alternation(_SYMBOLS)
    code = _alternation(_CODES)
    word = _alternation(_WORDS)
    before = regex.compile(
        rf"(?<![\p{{L}}\p{{N}}])(?P<cur>{symbol}|{code})[ \u00a0]?(?P<num>{_NUMBER})"
        rf"(?:(?P<short>{short}){_END}|[ \u00a0-](?P<scale>{scale}){_END})?",
        regex.IGNORECASE,
    )
    after = regex.compile(
        rf"(?<![\p{{L}}\p{{N}}.,])(?P<num>{_NUMBER})(?:[ \u00a0-](?P<scale>{scale}))?[ \u00a0-]*"
        rf"(?P<cur>{word}|{code}|€|\$|£){_END}",
        regex.IGNORECASE,
    )
    return before, after


def extract_money(text: str, language: str) -> list[dict]:
    before, after = _patterns(language)
    scales = {**_SCALES.get(language, _SCALES["en"])}
    found: list[dict] = []
    taken: list[tuple[int, int]] = []
    for pattern in (before, after):
        for m in pattern.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            exponent = 0
            if m.groupdict().get("short"):
                exponent = _SHORT_SCALES[m.group("short").lower()]
            elif m.group("scale"):
                exponent = scales[m.group("scale").rstrip(".").lower()]
            amount = parse_number(m.group("num"), language, scaled=exponent > 0)
            if amount is None:
                continue
            found.append({
                "text": m.group(0).strip(" -"),
                "value": _plain(amount * (Decimal(10) ** exponent)),
                "currency": _currency(m.group("cur")),
                "offset": m.start(),
            })
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda item: item["offset"])


def parse_number(raw: str, language: str, *, scaled: bool = False) -> Decimal | None:
    """"1.000.000" / "1,000,000" / "3,5" / "2.5": the separators tell thousands from decimals.

    A lone separator before exactly three digits groups thousands ("2.500 Euro"), unless a
    scale word follows and it is the language's decimal mark ("1,250 Milliarden" is 1.25).
    """
    digits = raw.replace("\u00a0", "").replace("\u202f", "")
    decimal_mark = "," if language == "de" else "."
    marks = [c for c in digits if c in ".,"]
    if not marks:
        normalised = digits
    elif len(set(marks)) == 2:
        last = max(digits.rfind("."), digits.rfind(","))
        normalised = digits[:last].replace(".", "").replace(",", "") + "." + digits[last + 1:]
    elif len(marks) > 1:
        normalised = digits.replace(marks[0], "")
    else:
        head, tail = digits.split(marks[0])
        thousands = len(tail) == 3 and not (scaled and marks[0] == decimal_mark)
        normalised = head + tail if thousands else head + "." + tail
    try:
        return Decimal(normalised)
    except InvalidOperation:
        return None


def _currency(token: str) -> str:
    for table in (_SYMBOLS, _WORDS):
        for key, code in table.items():
            if key.lower() == token.lower():
                return code
    return token.upper()


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(round(value, 2))
