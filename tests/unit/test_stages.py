"""Each stage's pure function, chained on the seed page with no Kafka: every output is a valid
event of its schema, ids and trace ids carry through."""

from pathlib import Path

import pytest

from newsflow.core.envelope import encode, make_event
from newsflow.core.schemas import validate
from newsflow.core.settings import Settings
from newsflow.enrich.stage import enrich
from newsflow.fetch.fetcher import FetchedPage, raw_event
from newsflow.index.documents import to_action
from newsflow.parse.extract import ExtractionError
from newsflow.parse.stage import parse

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "samples" / "site" / "mark-zuckerbergs-seltsame-aktionen.html"
URL = "http://127.0.0.1:8765/mark-zuckerbergs-seltsame-aktionen.html"


def _request(url=URL):
    return make_event("news.fetch.request/1", "a" * 32, "b" * 32, {"url": url, "source": "test"}, "test")


def _raw(body: bytes, status=200, compress_over=16384):
    page = FetchedPage(url=URL, final_url=URL, status=status, headers={"content-type": "text/html; charset=utf-8"},
                       body=body, fetched_at="2025-06-25T10:00:00.000Z", elapsed_ms=12.5)
    return raw_event(_request(), page, Settings(compress_over_bytes=compress_over))


@pytest.mark.parametrize("compress_over", [0, 10**9])
def test_seed_page_through_every_stage_function(compress_over):
    raw = _raw(SEED.read_bytes(), compress_over=compress_over)
    validate(raw, "news.raw/1")
    assert raw["payload"]["body_compression"] == ("zstd" if compress_over == 0 else "none")
    assert raw["payload"]["charset_hint"] == "utf-8"

    parsed = parse(raw)
    validate(parsed, "news.parsed/1")
    assert parsed["trace_id"] == "b" * 32 and parsed["id"] == raw["id"]
    article = parsed["payload"]
    assert article["title"] == "Mark Zuckerbergs seltsame Aktionen"
    assert str(article["published"]).startswith("2025-06-24")
    assert "Um Meta im KI-Wettlauf auf den neuesten Stand zu bringen" in article["text"]
    assert article["site"] == "127.0.0.1" and article["fetched_at"] == "2025-06-25T10:00:00.000Z"

    enriched = enrich(parsed)
    validate(enriched, "news.enriched/1")
    assert enriched["payload"]["enrichment"]["language"]["code"] == "de"
    assert enriched["payload"]["language"] == "de"

    action = to_action(enriched, "articles", "2025-06-25T10:00:01Z")
    assert action["_id"] == raw["id"] and action["_source"]["title"] == article["title"]


def test_an_error_status_carries_no_article():
    with pytest.raises(ExtractionError, match="404"):
        parse(_raw(b"<html><body>gone</body></html>", status=404))


def test_the_fetch_request_schema_refuses_other_schemes():
    bad = _request("file:///etc/passwd")
    with pytest.raises(Exception, match="payload/url"):
        encode(bad, "news.fetch.request/1")
