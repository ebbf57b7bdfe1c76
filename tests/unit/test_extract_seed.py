"""The seed article (../shared/fixtures/seed-article) must parse to every field its
expected.json lists under "parse"."""

import json
from pathlib import Path

import pytest

from newsflow.parse.extract import PARSER_VERSION, extract_article

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "seed-article"
EXPECTED = json.loads((SEED / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def expected() -> dict:
    return EXPECTED


@pytest.fixture(scope="module")
def article(expected) -> dict:
    return extract_article((SEED / "page.html").read_bytes(), expected["url"])


def test_title(article, expected):
    assert article["title"] == expected["parse"]["title"]


def test_language(article, expected):
    assert article["language"] == expected["parse"]["language"]


def test_published_day(article, expected):
    # a full date-time when the page states the time; its day is the expected date
    assert article["published"][:10] == expected["parse"]["published"]


def test_site_name(article, expected):
    assert article["site_name"] == expected["parse"]["site_name"]


def test_author_is_the_source(article, expected):
    assert article["author"] == expected["parse"]["author_or_source"]


def test_original_url(article, expected):
    assert article["original_url"] == expected["parse"]["original_url"]


def test_lead(article, expected):
    assert article["lead"].startswith(expected["parse"]["lead_starts_with"])


@pytest.mark.parametrize("phrase", EXPECTED["parse"]["body_must_contain"])
def test_body_contains(article, phrase):
    assert phrase in article["text"]


@pytest.mark.parametrize("boilerplate", EXPECTED["parse"]["body_must_not_contain"])
def test_body_has_no_boilerplate(article, boilerplate):
    assert boilerplate not in article["text"]


def test_images(article, expected):
    images = article["images"]
    assert len(images) == expected["parse"]["image_count"]
    assert all(image["url"].startswith("https://www.vietnam.vn/images/") for image in images)
    assert all(image["caption"] and "Foto:" in image["caption"] for image in images)


def test_other_fields(article, expected):
    assert article["canonical_url"] == expected["url"]
    assert article["page_type"] == "article"
    assert article["section"] == "Technologie"
    assert article["authors"] == ["ZNews"]
    assert article["parser_version"] == PARSER_VERSION
    # the headline is metadata, not the first line of the body
    assert not article["text"].startswith(expected["parse"]["title"])


def test_result_is_json_and_deterministic(article, expected):
    again = extract_article((SEED / "page.html").read_bytes(), expected["url"])
    assert json.dumps(again, sort_keys=True) == json.dumps(article, sort_keys=True)
