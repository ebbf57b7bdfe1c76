"""Published dates: the day in the page's own time zone, and pages with a clear article and a
date that trafilatura's precision mode alone would refuse as "no article"."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from newsflow.parse.extract import extract_article

DATES = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "dates"
BODY = "".join(f"<p>Absatz {i}: Der Gemeinderat hat am Abend lange über den neuen Haushalt beraten und "
               f"schließlich mit knapper Mehrheit zugestimmt.</p>" for i in range(6))


def page(stated: str) -> str:
    return (f'<html lang="de"><head><title>Haushalt beschlossen</title>'
            f'<meta property="article:published_time" content="{stated}"></head>'
            f"<body><article><h1>Haushalt beschlossen</h1>{BODY}</article></body></html>")


@pytest.mark.parametrize("stated, day", [
    ("2025-06-24T23:30:00-05:00", "2025-06-24"),  # 04:30 UTC the next day
    ("2025-06-25T00:30:00+02:00", "2025-06-25"),  # 22:30 UTC the day before
    ("2025-06-25T12:00:00Z", "2025-06-25"),
])
def test_published_day_is_the_pages_own_not_utc(stated, day):
    article = extract_article(page(stated), "https://example.org/haushalt")
    assert article["published"] == day
    assert article["published_at"].startswith(stated[:19])  # the stated time and offset kept


@pytest.mark.parametrize("key, day", [
    ("careelite.de-flaechenverbrauch", "2022-01-21"),
    ("rhein-neckar-loewen.de-vorverkauf", "2022-02-02"),
])
def test_a_page_trafilatura_extracts_and_htmldate_dates_is_not_refused(key, day):
    path = DATES / "html" / f"{key}.html.gz"
    if not path.exists():
        pytest.skip("the shared dates benchmark is not beside the work tree")
    article = extract_article(gzip.decompress(path.read_bytes()), None, time_limit_s=120)
    assert article["text"] and article["published"] == day


def page_with(meta: str, dateline: str) -> str:
    return (f'<html lang="de"><head><title>Haushalt beschlossen</title>{meta}</head>'
            f"<body><article><h1>Haushalt beschlossen</h1>{dateline}{BODY}</article></body></html>")


@pytest.mark.parametrize("meta", [
    '<meta name="date" content="2025-06-25">',  # a generic date: often the last change
    '<meta property="og:updated_time" content="2025-06-25T09:00:00+02:00">',
])
@pytest.mark.parametrize("dateline", [
    '<p class="date">24.06.2025</p>',
    '<time datetime="2025-06-24">24. Juni 2025</time>',
])
def test_without_a_stated_publication_time_the_dateline_beats_a_generic_meta_date(meta, dateline):
    article = extract_article(page_with(meta, dateline), "https://example.org/haushalt")
    assert article["published"] == "2025-06-24"


@pytest.mark.parametrize("dateline", ['<p class="date">24.06.2025</p>', ""])
def test_a_stated_publication_time_still_wins_over_the_dateline(dateline):
    meta = '<meta property="article:published_time" content="2025-06-25T09:00:00+02:00">'
    article = extract_article(page_with(meta, dateline), "https://example.org/haushalt")
    assert article["published_at"] == "2025-06-25T09:00:00+02:00"


def test_a_generic_meta_date_is_kept_when_the_page_shows_no_date():
    article = extract_article(page_with('<meta name="date" content="2025-06-25">', ""), "https://example.org/haushalt")
    assert article["published"] == "2025-06-25"
