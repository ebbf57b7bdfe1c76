"""Bad input gives a clear outcome: an article, a page-type flag, or ExtractionError with a
reason. Never another exception, never a hang."""

import gzip
import os
import time
from pathlib import Path

import pytest

from newsflow.parse import extract as extract_module
from newsflow.parse.extract import ExtractionError, extract_article

SEED_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "seed-article"
SEED = (SEED_DIR / "page.html").read_bytes()
SEED_URL = "https://www.vietnam.vn/de/mark-zuckerbergs-seltsame-aktionen"
SEED_TITLE = "Mark Zuckerbergs seltsame Aktionen"
# words with letters that windows-1252 and UTF-8 encode differently
GERMAN = "Größere Übungen für Bären – „Zitat“ … Straße"
FRENCH = "Crème brûlée et naïveté — « très » chère"


def article_page(paragraph: str, charset: str = "utf-8") -> str:
    body = "".join(f"<p>{paragraph} Absatz {i}, der lang genug ist, um als Text zu zählen.</p>" for i in range(8))
    return (f'<html lang="de"><head><meta charset="{charset}"><title>Ein Titel</title>'
            f'<meta property="og:type" content="article"></head><body><article><h1>Ein Titel</h1>{body}'
            "</article></body></html>")


def reason_of(data, url=None, **kwargs) -> str:
    with pytest.raises(ExtractionError) as caught:
        extract_article(data, url, **kwargs)
    return caught.value.reason


@pytest.mark.parametrize("data", [b"", b"  \n\t ", "", "   "])
def test_empty_input_is_an_extraction_error(data):
    assert "empty" in reason_of(data)


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20,
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 20,
    b"PK\x03\x04" + os.urandom(4096),
    "text\x00with\x00nul\x00characters\x00" * 50,
])
def test_binary_input_is_an_extraction_error(data):
    assert "binary" in reason_of(data)


def test_page_without_text_is_an_extraction_error():
    assert "no main text" in reason_of(b"<html><head><title></title></head><body><div></div></body></html>")


def test_gzip_compressed_page_is_inflated():
    assert extract_article(gzip.compress(SEED), SEED_URL)["title"] == SEED_TITLE


def test_declared_utf8_but_windows_1252():
    data = article_page(GERMAN, charset="utf-8").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert GERMAN in extract_article(data)["text"]


def test_declared_windows_1252_but_utf8():
    data = article_page(FRENCH, charset="windows-1252").encode("utf-8")
    text = extract_article(data)["text"]
    assert FRENCH in text
    assert "Ã" not in text  # no mojibake


def test_wrong_charset_hint_loses_to_the_bytes():
    assert GERMAN in extract_article(article_page(GERMAN).encode("utf-8"), charset_hint="iso-8859-1")["text"]


def test_declared_legacy_charset_is_used():
    data = article_page("Zażółć gęślą jaźń", charset="iso-8859-2").encode("iso-8859-2")
    assert "Zażółć gęślą jaźń" in extract_article(data)["text"]


def test_seed_converted_to_windows_1252_keeps_its_article():
    data = SEED.decode("utf-8").encode("cp1252", errors="replace")
    article = extract_article(data, SEED_URL)
    assert article["title"] == SEED_TITLE
    assert "Unerwartete Aktion" in article["text"]
    assert "Köpfe" in article["text"]


def test_20_mb_page_with_the_article_first():
    filler = b'<div class="teaser"><a href="/x">Teaser link</a><p>Teaser paragraph text.</p></div>\n' * 250_000
    page = SEED.replace(b"</body>", filler + b"</body>")
    assert len(page) > 20_000_000
    started = time.monotonic()
    article = extract_article(page, SEED_URL)
    assert time.monotonic() - started < 10
    assert article["title"] == SEED_TITLE
    assert "selbst Talente zu finden" in article["text"]


def test_20_mb_of_script_before_the_article():
    page = SEED.replace(b"<body class=\"page-article\">", b"<body><script>" + b"var x = 1;" * 2_000_000 + b"</script>")
    assert len(page) > 20_000_000
    article = extract_article(page, SEED_URL)
    assert "Um Meta im KI-Wettlauf" in article["text"]
    assert article["original_url"]  # JSON-LD in the head survives the cut


def test_20_mb_single_paragraph_is_cut_not_hung():
    page = b"<html><body><p>" + b"word " * 4_000_000 + b"</p></body></html>"
    started = time.monotonic()
    article = extract_article(page)
    assert time.monotonic() - started < 10
    assert 0 < len(article["text"]) <= 1_000_000


@pytest.mark.parametrize("depth", [300, 5_000, 100_000])
def test_deeply_nested_html_keeps_its_text(depth):
    page = SEED.replace(b"<p>Um Meta", b"<div>" * depth + b"<p>Um Meta")
    article = extract_article(page, SEED_URL)
    assert "Um Meta im KI-Wettlauf" in article["text"]
    assert "selbst Talente zu finden" in article["text"]


def test_lone_surrogates_in_text_input():
    page = "<html><body><p>" + "Ein Satz mit \ud800 kaputtem Zeichen, lang genug. " * 20 + "</p></body></html>"
    assert "kaputtem Zeichen" in extract_article(page)["text"]


def test_home_page_is_flagged():
    assert extract_article(SEED, "https://www.vietnam.vn/de/")["page_type"] == "home"


def test_tag_page_is_flagged_as_list():
    links = "".join(f'<li><a href="/de/a{i}">Schlagzeile Nummer {i} über etwas</a></li>' for i in range(60))
    page = f"<html><head><title>Meta</title></head><body><h1>Meta</h1><ul>{links}</ul></body></html>"
    assert extract_article(page, "https://www.vietnam.vn/de/tag/meta")["page_type"] == "list"
    assert extract_article(page)["page_type"] == "list"  # link-heavy even without a URL


def test_video_page_is_flagged():
    page = ('<html><head><meta property="og:type" content="video.other"><title>Clip</title></head>'
            '<body><h1>Clip</h1><video src="a.mp4"></video><p>A short description of the clip.</p></body></html>')
    assert extract_article(page, "https://example.com/video/123")["page_type"] == "video"


def test_time_limit_turns_a_hang_into_an_extraction_error(monkeypatch):
    def endless(*args, **kwargs):
        while True:
            pass

    monkeypatch.setattr(extract_module, "extract_body", endless)
    assert "time limit" in reason_of(SEED, SEED_URL, time_limit_s=0.5)


def test_time_limit_holds_in_a_worker_thread(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(extract_module, "extract_body", lambda *a, **k: time.sleep(0.05) or endless_loop())
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(lambda: reason_of(SEED, SEED_URL, time_limit_s=0.5))
        assert "time limit" in future.result(timeout=120)
        # the worker is free again and no late strike hits its next job
        monkeypatch.undo()
        assert pool.submit(extract_article, SEED, SEED_URL).result(timeout=30)["title"] == SEED_TITLE


def endless_loop():
    while True:
        pass


def test_unexpected_failure_inside_becomes_an_extraction_error(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(extract_module, "extract_body", broken)
    assert "KeyError" in reason_of(SEED, SEED_URL)


def test_not_a_page_at_all():
    assert "not a page" in reason_of(12345)
