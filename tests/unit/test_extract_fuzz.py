"""Fuzzing: whatever the input, extract_article returns a well-formed article or raises
ExtractionError, and nothing else."""

import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow.parse.extract import PARSER_VERSION, ExtractionError, extract_article

SEED = (Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "seed-article" / "page.html").read_bytes()
KEYS = {"title", "lead", "text", "authors", "author", "published", "published_at", "modified", "language", "site_name",
        "canonical_url", "original_url", "images", "section", "tags", "page_type", "parser_version"}
OPTIONAL_TEXT = ("title", "lead", "author", "published", "published_at", "modified", "language", "site_name",
                 "canonical_url", "original_url", "section")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

fragments = st.sampled_from([
    "<html>", "</html>", "<head>", "<body>", "<p>", "</p>", "<div>", "</div>", "<article>", "<h1>", "</h1>",
    "<br>", "<img src='/a.jpg'>", "<figure><img src='x.png'><figcaption>c</figcaption></figure>",
    "<script>var a = '</p>';</script>", "<style>p{}</style>", "<!--", "-->", "<![CDATA[", "&amp;", "&#0;",
    "&#xD800;", "<meta charset='utf-16'>", "<meta charset='nonsense'>", '<meta property="og:type" content="video">',
    '<script type="application/ld+json">{"@type": "NewsArticle", "isBasedOn": "//x"}</script>',
    '<script type="application/ld+json">[[[[{"@graph": [1, "a", null]}]]]]</script>',
    '<link rel="canonical" href="http://[::1">', "Quelle: ", "Source: https://example.org/a", "<a href='javascript:x'>",
    "<time datetime='2099-99-99'>", "<meta property='article:published_time' content='2025-13-45T99:99'>",
])
html_like = st.lists(st.one_of(fragments, st.text(max_size=40)), max_size=60).map("".join)


def check(result: dict) -> None:
    assert set(result) == KEYS
    json.dumps(result)
    assert isinstance(result["text"], str)
    assert result["page_type"] in {"article", "home", "list", "video", "other"}
    assert result["parser_version"] == PARSER_VERSION
    for key in OPTIONAL_TEXT:
        assert result[key] is None or isinstance(result[key], str)
    assert result["language"] is None or re.fullmatch(r"[a-z]{2}", result["language"])
    for key in ("published", "modified"):
        assert result[key] is None or ISO_DATE.match(result[key])
    assert all(isinstance(a, str) and a for a in result["authors"])
    assert all(isinstance(t, str) for t in result["tags"])
    assert all(set(image) == {"url", "caption"} and image["url"].startswith("http") for image in result["images"])


def outcome(data, url=None) -> None:
    try:
        result = extract_article(data, url, time_limit_s=20)
    except ExtractionError as error:
        assert error.reason
    else:
        check(result)


@FUZZ
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data):
    outcome(data)


@FUZZ
@given(html_like, st.sampled_from([None, "https://example.com/", "https://example.com/a/b-c-d-e.html", "not a url"]))
def test_html_like_text(markup, url):
    outcome(markup, url)
    outcome(markup.encode("utf-8", errors="surrogatepass"), url)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.binary(min_size=0, max_size=8)), max_size=12))
def test_corrupted_seed_page(edits):
    data = bytearray(SEED)
    for position, replacement in edits:
        data[position:position + len(replacement)] = replacement
    outcome(bytes(data), "https://www.vietnam.vn/de/mark-zuckerbergs-seltsame-aktionen")
