"""The enrich stage's pure function on the seed page (real CoreNLP and embedding models), and
its limits: failing or slow components leave their field empty with a reason; an article
without text is dead-lettered."""

from __future__ import annotations

import json
import time

import pytest

from newsflow.core.envelope import encode, make_event
from newsflow.core.ids import article_id
from newsflow.core.schemas import validate
from newsflow.core.settings import Settings
from newsflow.core.stage import handle_message
from newsflow.enrich import corenlp, stage
from newsflow.enrich.stage import ENRICHMENT_VERSION, NothingToEnrich, enrich, stage_spec
from newsflow.parse.extract import extract_article

from .test_enrich_entities import EXPECTED, SEED_DIR, corenlp_server  # noqa: F401 - fixture

SEED_URL = json.loads((SEED_DIR / "expected.json").read_text(encoding="utf-8"))["url"]


def parsed_event(article: dict, url: str = SEED_URL) -> dict:
    return make_event("news.parsed/1", article_id(url), "b" * 32, {"url": url, "final_url": url, **article}, "parse")


@pytest.fixture(scope="module")
def seed_event() -> dict:
    article = extract_article((SEED_DIR / "page.html").read_bytes(), SEED_URL)
    return parsed_event({**article, "fetched_at": "2025-06-25T10:00:00Z"})


@pytest.fixture(scope="module")
def enriched_seed(corenlp_server, seed_event) -> dict:  # noqa: F811
    return enrich(seed_event, budget_s=120)


def test_seed_gets_every_field(enriched_seed):
    validate(enriched_seed, "news.enriched/1")
    e = enriched_seed["payload"]["enrichment"]
    assert e["version"] == ENRICHMENT_VERSION and e["errors"] == {}
    assert e["language"]["code"] == "de"
    persons = {p["name"] for p in e["entities"]["persons"]} & set(EXPECTED["persons"])
    organisations = {o["name"] for o in e["entities"]["organizations"]} & set(EXPECTED["organizations"])
    assert len(persons) >= 9 and len(organisations) >= 6
    assert {(m["value"], m["currency"]) for m in e["money"]} >= {(100_000_000, "USD"), (14_000_000_000, "USD")}
    assert len(e["keywords"]) >= 5 and all(isinstance(k, str) for k in e["keywords"])
    assert e["topic"]["topic"] in EXPECTED["topics_any_of"]
    # Provisional cluster: the original ZNews report the page names as its source.
    assert e["cluster_id"] == article_id("https://znews.vn/hanh-dong-ky-la-cua-mark-zuckerberg-post1563107.html")
    assert len(e["duplicates"]["bands"]) == 16
    assert len(e["embedding"]) == 384 and abs(sum(v * v for v in e["embedding"]) - 1) < 1e-3
    assert set(e["timings"]) >= {"language", "entities", "money", "keywords", "topic", "embedding"}


def test_a_component_failing_on_the_text_leaves_its_field_empty_with_the_reason(seed_event, monkeypatch):
    def refused(text, language):
        raise corenlp.CoreNLPError("CoreNLP server answered 500: annotation failed")

    monkeypatch.setattr(corenlp, "recognise", refused)
    e = enrich(seed_event, embed=False)["payload"]["enrichment"]
    assert e["entities"] == {"persons": [], "organizations": [], "locations": []}
    assert "answered 500" in e["errors"]["entities"]
    assert e["money"] and e["keywords"] and e["topic"]  # the rest still ran
    assert "embedding" not in e and "disabled" in e["errors"]["embedding"]


def test_a_component_whose_server_is_down_stops_the_article_instead_of_emptying_its_field(seed_event, monkeypatch):
    from newsflow.core.outage import DependencyUnavailable

    def down(text, language):
        raise DependencyUnavailable("corenlp", "server at http://127.0.0.1:9 not reachable")

    monkeypatch.setattr(corenlp, "recognise", down)
    with pytest.raises(DependencyUnavailable):
        enrich(seed_event, embed=False)


def test_a_component_over_the_time_budget_is_cut_off(seed_event, monkeypatch):
    monkeypatch.setattr(corenlp, "recognise", lambda text, language: [])

    def slow(text, language):
        time.sleep(2)
        return ["never"]

    monkeypatch.setattr(stage, "extract_keywords", slow)
    started = time.perf_counter()
    e = enrich(seed_event, budget_s=0.5, embed=False)["payload"]["enrichment"]
    assert time.perf_counter() - started < 1.5
    assert e["keywords"] == [] and "timed out" in e["errors"]["keywords"]
    assert "skipped" in e["errors"]["topic"]  # nothing left for the components after it


async def test_an_article_without_text_is_dead_lettered():
    empty = parsed_event({"title": "", "text": "", "fetched_at": "2025-06-25T10:00:00Z",
                          "parser_version": "test", "page_type": "article"})
    with pytest.raises(NothingToEnrich):
        enrich(empty)

    out = await handle_message(stage_spec(), encode(empty, "news.parsed/1"), Settings())
    assert out.schema == "news.dlq/1"
    assert json.loads(out.value)["payload"]["error"] == "NothingToEnrich"
