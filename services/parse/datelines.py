"""The publication day a page shows its readers: schema.org microdata and labelled datelines.

Pages without a publication time in their <meta> tags or JSON-LD often still say it in the
markup: an element marked itemprop="datePublished" (schema.org microdata), or a dateline with
a label ("Veröffentlicht am 16.08.2019", "Published: 7 April 2020", "Datum: 18.10.2021").
htmldate weighs neither above a generic <meta name="date"> or og:updated_time, which are often
the last change. On the development set (../shared/benchmarks/dates, 799 pages) each is right
on 62 of 64 and 69 of 72 pages where found; metadata.py uses them only where the page states
no publication time otherwise (figures in README.md, "Entity, date and enrichment benchmarks").

Pure functions of the parsed tree.
"""

from __future__ import annotations

import datetime as dt
import re

from lxml.html import HtmlElement

_MONTHS = {
    name: number
    for names in (
        "januar februar märz april mai juni juli august september oktober november dezember",
        "january february march april may june july august september october november december",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
        "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    )
    for number, name in enumerate(names.split(), start=1)
} | {"jänner": 1}
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
# Labels that mean "published on" (German, English, French, Spanish, Italian); not "updated".
_LABEL = (r"(?:veröffentlicht(?:\s+am)?|erschienen(?:\s+am)?|publiziert(?:\s+am)?|datum|published(?:\s+on)?"
          r"|posted(?:\s+on)?|written|publié\s+le|publicado(?:\s+el)?|pubblicato(?:\s+il)?)")
_DATE = (rf"(?:(?P<y1>\d{{4}})-(?P<m1>\d{{1,2}})-(?P<d1>\d{{1,2}})"
         rf"|(?P<d2>\d{{1,2}})\.\s?(?P<m2>\d{{1,2}})\.\s?(?P<y2>\d{{4}})"
         rf"|(?P<d3>\d{{1,2}})\.?\s+(?:de\s+)?(?P<n3>{_MONTH})\s+(?:de\s+)?(?P<y3>\d{{4}})"
         rf"|(?P<n4>{_MONTH})\s+(?P<d4>\d{{1,2}}),?\s+(?P<y4>\d{{4}}))")
# The label, an optional colon and weekday ("am Samstag, 3. Dezember 2011"), then the date.
_DATELINE = re.compile(rf"\b{_LABEL}\s*:?\s*(?:\w+,\s*)?{_DATE}", re.IGNORECASE)
_ISO_DAY = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})")
_MIN_YEAR, _MAX_YEAR = 1990, 2100


def microdata_published(tree: HtmlElement) -> str | None:
    """The day of the first element (not a <meta>) marked itemprop="datePublished"."""
    for element in tree.xpath('//*[@itemprop="datePublished"][not(self::meta)]'):
        value = element.get("datetime") or element.get("content") or element.text_content()
        match = _ISO_DAY.match(value or "")
        if match and (day := _day(*map(int, match.groups()))):
            return day
    return None


def labelled_dateline(tree: HtmlElement) -> str | None:
    """The day of the first labelled dateline in the page's visible text."""
    text = " ".join(" ".join(tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]")).split())
    match = _DATELINE.search(text)
    return dateline_day(match) if match else None


def dateline_day(match: re.Match) -> str | None:
    g = match.groupdict()
    if g["y1"]:
        return _day(int(g["y1"]), int(g["m1"]), int(g["d1"]))
    if g["y2"]:
        return _day(int(g["y2"]), int(g["m2"]), int(g["d2"]))
    if g["y3"]:
        return _day(int(g["y3"]), _MONTHS[g["n3"].lower()], int(g["d3"]))
    return _day(int(g["y4"]), _MONTHS[g["n4"].lower()], int(g["d4"]))


def _day(year: int, month: int, day: int) -> str | None:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None
