"""Calendar dates mentioned in German and English text.

    extract_dates("… der 2013 eingestellt wurde … am 24. Juni 2025 …", "de")
    -> [{"text": "2013", "date": "2013", "granularity": "year", "offset": 4}, {"text": "24. Juni 2025",
        "date": "2025-06-24", "granularity": "day", "offset": 33}]

Only absolute dates: a relative one ("nächsten Dienstag") needs the publication date, which
the caller has and this function doesn't. dateparser's search_dates was measured on the seed
and rejected: it reads German "mit" and "die" as Mittwoch and Dienstag. The explicit forms
below are matched here and checked with datetime.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import regex

_MONTHS = {
    "de": {"januar": 1, "jan": 1, "jänner": 1, "februar": 2, "feb": 2, "märz": 3, "mär": 3, "maerz": 3,
           "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8,
           "september": 9, "sept": 9, "sep": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
           "dezember": 12, "dez": 12},
    "en": {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
           "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
           "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12},
}
# A bare year is a date only after words like these ("seit 2013", "in 2013") or when no
# noun follows it ("2013 von Zuckerberg eingestellt", see _patterns): "2000 Mitarbeiter" is a count.
_YEAR_CUES = {
    "de": "im|in|seit|bis|ab|von|vor|nach|um|Jahr|Jahres|Jahre|Anfang|Ende|Mitte|Frühjahr|Sommer|Herbst|Winter|Sommers",
    "en": "in|since|by|until|till|from|before|after|of|year|early|late|mid|around|during|the",
}
_YEAR = r"(?:19|20)\d{2}"
# An inflected adjective or numeral then a noun: what follows a count, not a year. Articles,
# pronouns, prepositions and adverbs with the same endings ("2013 die Firma gekauft", "2013
# über Google") don't count.
_NOT_ADJECTIVE_DE = (
    r"(?:die|der|den|dem|des|eine|einen|einer|eines|einem|keine|keinen|keiner|seine|seinen|seiner|"
    r"seines|seinem|ihre|ihren|ihrer|ihres|ihrem|unsere|unseren|unserer|diese|diesen|dieser|dieses|"
    r"diesem|jene|jenen|jener|alle|allen|aller|beide|beiden|mehrere|einige|viele|über|unter|hinter|"
    r"wieder|aber|oder|immer|später|außer|sowie|seiner|erneut|gegen|ihnen|denen|deren)"
)
_ADJECTIVE_NOUN_DE = rf"(?!{_NOT_ADJECTIVE_DE}\s)\p{{Ll}}+(?:e|en|er|es|em)\s+\p{{Lu}}"
# Words that make the number after them an amount ("rund 1990 Händler", "etwa 2000 Menschen").
_QUANTITY_BEFORE = {
    "de": r"(?<!(?i:rund|etwa|knapp|fast|nahezu|circa|ca\.|gut|insgesamt|mehr als|weniger als|bis zu|über)\s+)",
    "en": r"(?<!(?i:about|nearly|almost|some|over|more than|fewer than|less than|up to|approximately|roughly)\s+)",
}
_B = r"(?<![\p{L}\p{N}])"
_E = r"(?![\p{L}\p{N}])"


@lru_cache(maxsize=None)
def _patterns(language: str) -> list[tuple[str, regex.Pattern]]:
    months = _MONTHS.get(language, _MONTHS["en"])
    month = "(?P<month>" + "|".join(sorted(months, key=len, reverse=True)) + r")\.?"
    cues = _YEAR_CUES.get(language, _YEAR_CUES["en"])
    # German capitalises nouns, so a lower-case word after the number means it isn't a count
    # ("2013 von Siemens übernommen") unless it is an adjective before a noun ("2000 neue
    # Mitarbeiter", "1990 kleine Händler"); English doesn't ("2000 employees"): there only
    # punctuation may follow a cue-less year.
    follows = r"\s*[.,;:)!?]|\s*$" + (rf"|\s+(?!{_ADJECTIVE_NOUN_DE})\p{{Ll}}" if language == "de" else "")
    not_after = _QUANTITY_BEFORE.get(language, "")
    flags = regex.IGNORECASE
    return [
        ("iso", regex.compile(rf"{_B}(?P<year>{_YEAR})-(?P<month>\d{{2}})-(?P<day>\d{{2}}){_E}")),
        # Only digits may not touch it: bylines glue dates to names ("ZNews24/06/2025").
        ("numeric", regex.compile(rf"(?<!\d)(?P<a>\d{{1,2}})(?P<sep>[./-])(?P<b>\d{{1,2}})(?P=sep)(?P<year>{_YEAR}){_E}")),
        ("day_month", regex.compile(rf"{_B}(?P<day>\d{{1,2}})\.?\s+{month}\s+(?P<year>{_YEAR}){_E}", flags)),
        ("month_day", regex.compile(rf"{_B}{month}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>{_YEAR}){_E}", flags)),
        ("month_year", regex.compile(rf"{_B}{month}\s+(?P<year>{_YEAR}){_E}", flags)),
        ("year", regex.compile(
            rf"(?:(?<={_B}(?i:{cues})\s+)(?P<year>{_YEAR}){_E}|{not_after}{_B}(?P<year>{_YEAR})(?={follows}))")),
    ]


def extract_dates(text: str, language: str) -> list[dict]:
    months = _MONTHS.get(language, _MONTHS["en"])
    found: list[dict] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _patterns(language):
        for m in pattern.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            parsed = _parse(kind, m, months, language)
            taken.append((m.start(), m.end()))  # "31.02.2024" is no date, nor is its "2024"
            if parsed is None:
                continue
            date, granularity = parsed
            found.append({"text": m.group(0), "date": date, "granularity": granularity, "offset": m.start()})
    return sorted(found, key=lambda item: item["offset"])


def _parse(kind: str, m: regex.Match, months: dict, language: str):
    year = int(m.group("year"))
    if kind == "year":
        return str(year), "year"
    if kind == "month_year":
        return f"{year:04d}-{months[m.group('month').lower()]:02d}", "month"
    if kind == "numeric":
        a, b = int(m.group("a")), int(m.group("b"))
        # US order only for English slashes, and only when the day-first reading is impossible
        # or the month-first one is the sole valid one.
        day, month = (a, b)
        if language == "en" and m.group("sep") == "/" and a <= 12 and b > 12:
            day, month = b, a
    elif kind == "iso":
        day, month = int(m.group("day")), int(m.group("month"))
    else:
        day, month = int(m.group("day")), months[m.group("month").lower()]
    try:
        return dt.date(year, month, day).isoformat(), "day"
    except ValueError:
        return None
