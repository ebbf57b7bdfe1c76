"""The parts of the parse core, one behaviour each: decoding, size and depth caps, the time
limit, metadata, provenance, images, language and page type."""

import codecs
import gzip
import threading
import time

import pytest
from lxml.html import document_fromstring

from newsflow.parse.body import drop_leading_title
from newsflow.parse.decoding import UndecodableInput, decode_html, declared_charset, looks_binary
from newsflow.parse.dom import MAX_DEPTH, MAX_MARKUP_CHARS, drop_non_text_blocks, parse_html
from newsflow.parse.guard import TimeLimitExceeded, time_limit
from newsflow.parse.images import article_images
from newsflow.parse.language import declared_language, language_code, page_language
from newsflow.parse.metadata import canonical_url, iso_datetime, meta_tags, page_tags, published_date, split_authors
from newsflow.parse.pagetype import page_type, reads_like_article
from newsflow.parse.provenance import find_provenance, source_line

PAGE_URL = "https://www.vietnam.vn/de/artikel"


def tree_of(body: str, head: str = ""):
    return document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


# decoding

def test_utf8_wins_over_a_declared_legacy_charset():
    assert decode_html('<meta charset="iso-8859-1"><p>Straße</p>'.encode()).endswith("Straße</p>")


def test_declared_legacy_charset_used_when_bytes_are_not_utf8():
    assert "Straße" in decode_html('<meta charset="iso-8859-1"><p>Straße</p>'.encode("latin-1"))


def test_latin1_label_decodes_as_windows_1252_like_browsers():
    # 0x93/0x94 are curly quotes in windows-1252, control codes in ISO-8859-1
    assert "\u201cquoted\u201d" in decode_html(b'<meta charset="ISO-8859-1"><p>\x93quoted\x94</p>')


def test_charset_hint_is_used_for_non_utf8_bytes():
    assert "Łódź" in decode_html("<p>Łódź</p>".encode("iso-8859-2"), charset_hint="iso-8859-2")


def test_utf8_cut_in_the_middle_of_a_character_stays_utf8():
    data = ("<p>" + "Größe " * 100).encode()
    assert decode_html(data[:-1]).startswith("<p>Größe Größe")


def test_utf8_with_a_few_stray_bytes_stays_utf8():
    data = ("<p>" + "Größe " * 100).encode() + b"\xff<p>"
    assert "Größe Größe" in decode_html(data)


def test_boms_decide_the_codec():
    assert decode_html(codecs.BOM_UTF8 + "<p>é</p>".encode()) == "<p>é</p>"
    assert decode_html("<p>é</p>".encode("utf-16")) == "<p>é</p>"


def test_gzip_bytes_are_inflated():
    assert decode_html(gzip.compress("<p>é</p>".encode())) == "<p>é</p>"


def test_binary_detection():
    assert looks_binary(b"\x00\x01\x02\x03" * 100)
    assert not looks_binary("<p>Text mit Ümlauten</p>\n\t".encode())
    with pytest.raises(UndecodableInput):
        decode_html(bytes(range(32)) * 100)


def test_declared_charset_forms():
    assert declared_charset(b'<meta charset="windows-1252">') == "windows-1252"
    assert declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2">') == "ISO-8859-2"
    assert declared_charset(b"<p>no declaration</p>") is None


# size and depth caps

def test_non_text_blocks_are_dropped_but_json_ld_kept():
    markup = '<p>a</p><script>x()</script><SCRIPT type="application/ld+json">{}</SCRIPT><style>p{}</style><p>b</p>'
    assert drop_non_text_blocks(markup) == '<p>a</p><SCRIPT type="application/ld+json">{}</SCRIPT><p>b</p>'


def test_unclosed_script_swallows_the_rest():
    assert drop_non_text_blocks("<p>a</p><script>never closed <p>b</p>") == "<p>a</p>"


def test_oversized_markup_is_cut_to_the_cap():
    tree = parse_html("<html><body>" + "<p>word word word</p>" * 200_000 + "</body></html>")
    assert len(tree.xpath("//p")) * len("<p>word word word</p>") <= MAX_MARKUP_CHARS


def test_deep_nesting_is_flattened_below_the_limit():
    tree = parse_html("<html><body>" + "<div>" * 3000 + "<p>deep text</p>" + "</div>" * 3000 + "</body></html>")
    assert "deep text" in tree.text_content()
    deepest = max(len(list(element.iterancestors())) for element in tree.iter())
    assert deepest <= MAX_DEPTH


# time limit

def test_time_limit_interrupts_a_busy_loop():
    started = time.thread_time()
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.2):
            while True:
                pass
    # stopped after about 0.2 s of this thread's CPU, however busy the machine
    assert 0.2 <= time.thread_time() - started < 1.5


def test_time_limit_counts_work_not_waiting():
    """A busy machine stretches wall time; only the thread's own CPU time counts, so a block
    that mostly waits (as an extraction does when it gets no core) is not cut off."""
    with time_limit(0.2):
        time.sleep(0.6)


def test_time_limit_is_not_swallowed_by_except_exception():
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.2):
            while True:
                try:
                    sum(range(1000))
                except Exception:  # noqa: BLE001 - what careless library code does
                    pass


def test_finished_blocks_leave_no_late_strike():
    for _ in range(200):
        with time_limit(0.05):
            pass
    time.sleep(0.4)  # a stray strike would land here


def test_time_limit_in_another_thread_leaves_this_one_alone():
    outcome = []

    def worker():
        try:
            with time_limit(0.2):
                while True:
                    pass
        except TimeLimitExceeded:
            outcome.append("stopped")

    thread = threading.Thread(target=worker)
    thread.start()
    with time_limit(0.5):  # waiting for the worker costs this thread no CPU
        thread.join(120)
    assert outcome == ["stopped"]


# metadata

@pytest.mark.parametrize(("value", "expected"), [
    ("2025-06-24T08:15:00+07:00", "2025-06-24T08:15:00+07:00"),
    ("2019-11-18T10:45:00Z", "2019-11-18T10:45:00+00:00"),
    ("2019-11-18 10:45:00", "2019-11-18T10:45:00"),
    ("2019-11-18", "2019-11-18"),
    ("18/11/2019", None),
    ("1871-01-01", None),
])
def test_iso_datetime(value, expected):
    assert iso_datetime(value) == expected


def test_published_keeps_the_stated_time_only_for_the_found_day():
    meta = {"article:published_time": "2025-06-24T08:15:00+07:00"}
    assert published_date("2025-06-24", None, meta) == "2025-06-24T08:15:00+07:00"
    assert published_date("2025-06-20", None, meta) == "2025-06-20"
    assert published_date(None, "2025-06-24T08:15:00+07:00", {}) == "2025-06-24T08:15:00+07:00"


def test_split_authors():
    assert split_authors("Anna Weber; Tom Li; Anna Weber") == ["Anna Weber", "Tom Li"]
    assert split_authors(None) == []


def test_canonical_url_is_absolute():
    tree = tree_of("", '<link rel="Canonical" href="/de/artikel?x=1">')
    assert canonical_url(tree, "https://www.vietnam.vn/other", {}) == "https://www.vietnam.vn/de/artikel?x=1"
    assert canonical_url(tree_of(""), PAGE_URL, {"og:url": "https://a.example/b"}) == "https://a.example/b"
    assert canonical_url(tree_of("", '<link rel="canonical" href="javascript:x">'), None, {}) is None


def test_tags_from_every_source_deduplicated():
    tree = tree_of("", '<meta property="article:tag" content="KI"><meta property="article:tag" content="Meta">')
    meta = meta_tags(tree)
    assert page_tags({"keywords": "ki, Zuckerberg"}, meta, ["Meta"]) == ["KI", "Meta", "Zuckerberg"]


# provenance

def test_is_based_on_gives_the_original():
    nodes = [{"@type": "NewsArticle", "isBasedOn": {"@type": "CreativeWork", "url": "https://znews.vn/a.html"}}]
    assert find_provenance(tree_of("<p>x</p>"), PAGE_URL, PAGE_URL, nodes).original_url == "https://znews.vn/a.html"


def test_source_line_with_a_link():
    tree = tree_of('<p>Text.</p><p><strong>Nguồn:</strong> <a href="https://znews.vn/b.html">ZNews</a></p>')
    assert source_line(tree, PAGE_URL) == ("https://znews.vn/b.html", "ZNews")


def test_source_line_without_a_link_names_the_source():
    assert source_line(tree_of("<p>Source: Reuters</p>"), PAGE_URL) == (None, "Reuters")


def test_source_lines_that_are_not_credits_are_ignored():
    tree = tree_of('<figure><figcaption>Quelle: <a href="https://photo.example/x">dpa</a></figcaption></figure>'
                   '<p>Open source: a long sentence that merely contains the word and a colon.</p>'
                   '<p>Quelle: <a href="/de/intern">unsere Redaktion</a></p>')
    assert source_line(tree, PAGE_URL) == (None, "unsere Redaktion")


def test_canonical_on_another_site_is_the_original():
    provenance = find_provenance(tree_of("<p>x</p>"), PAGE_URL, "https://znews.vn/c.html", [])
    assert provenance.original_url == "https://znews.vn/c.html"
    assert find_provenance(tree_of("<p>x</p>"), PAGE_URL, "https://m.vietnam.vn/de/artikel", []).original_url is None


# images

def test_images_of_the_body_region_with_captions():
    paragraph = "Ein Absatz des Artikels, der lang genug ist, um erkannt zu werden: {}."
    body = ('<div class="teaser"><img src="/teaser-top.jpg"></div>'
            '<article><figure><img data-src="/a.jpg" src="data:image/gif;base64,R0l"><figcaption>Foto A</figcaption></figure>'
            f'<p>{paragraph.format(1)}</p><img src="/icons/share.png" class="icon"><img src="/b.jpg" alt="Bild B" width="600">'
            f'<p>{paragraph.format(2)}</p><img src="/pixel.gif" width="1" height="1"></article>'
            '<aside><img src="/related.jpg"></aside>')
    text = "\n".join(paragraph.format(i) for i in (1, 2))
    images = article_images(tree_of(body), text, PAGE_URL, "https://www.vietnam.vn/a.jpg?w=1200")
    assert images == [
        {"url": "https://www.vietnam.vn/a.jpg", "caption": "Foto A"},
        {"url": "https://www.vietnam.vn/b.jpg", "caption": "Bild B"},
    ]


def test_lead_image_alone_when_the_body_has_none():
    images = article_images(tree_of("<p>short</p>"), "short", PAGE_URL, "/lead.jpg")
    assert images == [{"url": "https://www.vietnam.vn/lead.jpg", "caption": None}]


# language

def test_language_codes():
    assert language_code("de-DE") == "de"
    assert language_code("pt_BR") == "pt"
    assert language_code("deu") is None
    assert language_code("x") is None


def test_declared_language_sources():
    assert declared_language(document_fromstring('<html lang="fr"><body></body></html>'), None) == "fr"
    assert declared_language(tree_of("", '<meta property="og:locale" content="vi_VN">'), None) == "vi"
    assert declared_language(tree_of(""), {"inLanguage": "de"}) == "de"


def test_long_text_overrides_a_wrong_template_language():
    tree = document_fromstring('<html lang="en"><body></body></html>')
    german = "Der Vorstand hat am Dienstag beschlossen, die Produktion in den kommenden Monaten deutlich auszuweiten. " * 4
    assert page_language(tree, german, None) == "de"
    assert page_language(tree, "OK", None) == "en"  # too short to overrule the page


# page type

ARTICLE_TEXT = "\n".join(["Ein Absatz mit genug Text, um wie der Absatz eines Artikels auszusehen, und noch mehr."] * 10)


@pytest.mark.parametrize(("url", "og_type", "nodes", "expected"), [
    ("https://a.example/", None, [], "home"),
    ("https://a.example/de/", "website", [], "home"),
    ("https://a.example/?p=123", None, [], "article"),
    ("https://a.example/tag/ki", None, [], "list"),
    ("https://a.example/category/news/", None, [], "list"),
    ("https://a.example/category/news/ein-langer-artikel-titel", "article", [], "article"),
    ("https://a.example/x", None, [{"@type": "CollectionPage"}], "list"),
    ("https://a.example/x", "video.other", [], "video"),
    ("https://a.example/x", None, [{"@type": "VideoObject"}], "video"),
    ("https://a.example/x", None, [{"@type": ["VideoObject"]}, {"@type": "NewsArticle"}], "article"),
    ("https://a.example/x", "video.other", [{"@type": "Article"}], "article"),
    ("https://a.example/videos/123", None, [], "article"),
    ("https://a.example/x", None, [], "article"),
])
def test_page_type(url, og_type, nodes, expected):
    assert page_type(url, og_type, nodes, ARTICLE_TEXT, tree_of(f"<p>{ARTICLE_TEXT}</p>")) == expected


def test_short_text_without_markers_is_other():
    assert not reads_like_article("Impressum\nKontakt")
    assert page_type("https://a.example/impressum", None, [], "Impressum", tree_of("<p>Impressum</p>")) == "other"


def test_headline_is_dropped_from_the_body():
    assert drop_leading_title("Mark Zuckerbergs seltsame Aktionen\nText", "Mark Zuckerbergs seltsame Aktionen!") == "Text"
    assert drop_leading_title("Text\nMore", "Title") == "Text\nMore"
