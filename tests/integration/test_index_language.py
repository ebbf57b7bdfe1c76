"""Language-aware search on the real Elasticsearch: the project's template (analysers from the
newsflow-analysis plugin, infra/es-plugin) with the fields the search API queries."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from newsflow.core.envelope import make_event, utc_now
from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index
from newsflow.core.settings import Settings
from newsflow.index.documents import to_action
from newsflow.index.writer import write_batch
from newsflow.search.query import SEARCH_FIELDS

from .helpers import es, run_stem

pytestmark = pytest.mark.integration

DOCS = {
    "talente": ("de", "Meta wirbt Talente ab", "Zuckerberg holt die besten Talente aus dem Silicon Valley."),
    "unternehmens": ("de", "Strategie", "Die Strategie des Unternehmens bleibt geheim."),
    "talent": ("de", "Ein Talent", "Ein einziges Talent genügt nicht."),
    "hired": ("en", "Meta hired researchers", "The company hired dozens of researchers last month."),
    "cafe": ("en", "Opening", "A new Café opened in München near the station."),
    "other": ("en", "Weather", "Rain is expected across the region tomorrow."),
}


@pytest.fixture(scope="module")
def indexed(stack):
    settings = Settings().replace(index_alias=f"{run_stem('lang')}-articles")
    ids = {key: uuid.uuid4().hex for key in DOCS}

    async def load():
        client = es_client(settings)
        try:
            await ensure_index(client, settings)
            actions = [to_action(make_event("news.enriched/1", ids[key], uuid.uuid4().hex, {
                "url": f"https://x.example/{key}", "final_url": f"https://x.example/{key}", "title": title, "text": text,
                "language": lang, "fetched_at": "2025-06-24T10:00:00Z", "parser_version": "t", "page_type": "article",
                "enrichment": {"version": "t", "language": {"code": lang, "confidence": 1.0}}}, "test"),
                settings.index_alias, utc_now()) for key, (lang, title, text) in DOCS.items()]
            result = await write_batch(client, actions)
            assert result.written == len(DOCS) and not result.rejected
            await client.indices.refresh(index=settings.index_alias)
        finally:
            await client.close()

    asyncio.run(load())
    client = es(settings)
    yield settings, {v: k for k, v in ids.items()}, client
    client.indices.delete(index=f"{settings.index_alias}-v*")
    client.indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
    client.close()


def hits(indexed, q: str) -> list[str]:
    settings, names, client = indexed
    found = client.search(index=settings.index_alias, size=10,
                          query={"simple_query_string": {"query": q, "fields": SEARCH_FIELDS}})
    return [names[h["_id"]] for h in found["hits"]["hits"]]


@pytest.mark.parametrize("query, expected", [
    ("Talent", "talente"),          # German plural
    ("Unternehmen", "unternehmens"),  # German genitive
    ("hire", "hired"),              # English past tense
    ("researcher", "hired"),        # English plural
    ("CAFE", "cafe"),               # case and accent folding
    ("munchen", "cafe"),
    ("Muenchen", "cafe"),           # the German spelling of ü
])
def test_inflected_and_folded_forms_match(indexed, query, expected):
    assert expected in hits(indexed, query)


def test_stemming_does_not_match_everything(indexed):
    assert hits(indexed, "Talent") and "other" not in hits(indexed, "Talent")
    assert hits(indexed, "Unternehmen") == ["unternehmens"]


def test_the_exact_form_ranks_first(indexed):
    assert hits(indexed, "Talente")[0] == "talente"
    assert hits(indexed, "Talent")[0] == "talent"


def test_the_analysers_come_from_the_project_plugin(indexed):
    settings, _, client = indexed
    tokens = client.indices.analyze(index=settings.index_alias, analyzer="newsflow_german", text="Talente Unternehmens")
    assert [t["token"] for t in tokens["tokens"]] == ["talent", "unternehm"]
    tokens = client.indices.analyze(index=settings.index_alias, analyzer="newsflow_english", text="hired Café")
    assert [t["token"] for t in tokens["tokens"]] == ["hire", "cafe"]
