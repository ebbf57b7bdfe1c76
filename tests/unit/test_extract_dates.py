"""Published dates: the day in the page's own time zone, and pages with a clear article and a
date that trafilatura's precision mode alone would refuse as "no article"."""

from __future__ import annotations

import gzip
from pathlib import Path

import lxml.html
import pytest

from newsflow.parse.datelines import labelled_dateline
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


@pytest.mark.parametrize("dateline, day", [
    ("<p>Veröffentlicht am 24.06.2025 von der Redaktion</p>", "2025-06-24"),
    ("<p>Erschienen am: 24. Juni 2025</p>", "2025-06-24"),
    ('<div class="meta"><span class="label">Datum:</span> <span>24.06.2025</span></div>', "2025-06-24"),
    ("<p>Published: June 24, 2025</p>", "2025-06-24"),
    ("<p>Posted on Tuesday, 24 June 2025</p>", "2025-06-24"),
    ("<p>Publié le 24 juin 2025</p>", "2025-06-24"),
    ("<p>Publicado el 24 de junio de 2025</p>", "2025-06-24"),
    ('<time itemprop="datePublished" datetime="2025-06-24T10:20:00">gestern</time>', "2025-06-24"),
])
def test_without_a_stated_publication_time_the_page_s_own_dateline_is_taken(dateline, day):
    # htmldate takes the generic meta date (often the last change) here, and without it the
    # date of a teaser for another story
    teaser = '<div class="teaser"><a href="/andere">Andere Meldung</a> <span class="date">2025-06-26</span></div>'
    article = extract_article(page_with('<meta name="date" content="2025-06-27">', teaser + dateline),
                              "https://example.org/haushalt")
    assert article["published"] == day


@pytest.mark.parametrize("markup", [
    "<script>var label = 'Datum: 24.06.2025';</script><p>Kein Datum hier.</p>",
    "<p>Veröffentlicht am 31.02.2025</p>",  # no such day
    "<p>Aktualisiert am 24.06.2025</p>",  # an update, not the publication
])
def test_no_labelled_dateline_in_scripts_impossible_days_or_updates(markup):
    assert labelled_dateline(lxml.html.fromstring(f"<html><body>{markup}</body></html>")) is None


def test_a_labelled_dateline_does_not_override_a_stated_publication_time():
    meta = '<meta property="article:published_time" content="2025-06-25T09:00:00+02:00">'
    article = extract_article(page_with(meta, "<p>Veröffentlicht am 24.06.2025</p>"), "https://example.org/haushalt")
    assert article["published"] == "2025-06-25"
