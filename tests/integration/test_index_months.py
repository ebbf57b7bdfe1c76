"""Month-partitioned indices on the real Elasticsearch (NEWSFLOW_INDEX_PARTITIONING=month):
each article in the month index of its first publication behind the alias, the same index on
every later write whatever its date says then, external versions still guarding it, old months
dropped for retention, a new generation swapped in atomically, and the search API finding an
article by id across months."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from newsflow.cli import main as cli
from newsflow.core.envelope import encode, make_event, utc_now
from newsflow.core.topics import ensure_topics
from newsflow.index.removals import write_removals
from newsflow.index.sink import write_events
from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index, template_name
from newsflow.index.indices import index_name, swap_actions
from newsflow.core.settings import Settings, get_settings
from newsflow.index.documents import to_action
from newsflow.index.writer import write_batch

from .helpers import run_stem, send_raw

pytestmark = pytest.mark.integration


@pytest.fixture
def months(stack, monkeypatch):
    alias = f"{run_stem('months')}-articles"
    monkeypatch.setenv("NEWSFLOW_INDEX_ALIAS", alias)
    monkeypatch.setenv("NEWSFLOW_INDEX_PARTITIONING", "month")
    settings = Settings()
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    get_settings.cache_clear()  # the CLI reads the settings of this test, and later tests their own
    yield settings, client
    get_settings.cache_clear()
    client.options(ignore_status=404).indices.delete(index=f"{alias}-v*")
    client.options(ignore_status=404).indices.delete_index_template(name=template_name(settings))
    client.close()


def event(article: str, published: str | None, fetched_at: str, title: str = "Meta hires researchers") -> dict:
    return make_event("news.enriched/1", article, uuid.uuid4().hex, {
        "url": f"https://x.example/{article}", "final_url": f"https://x.example/{article}", "title": title,
        "text": f"{title}. The company hired dozens of researchers.", "published": published, "language": "en",
        "fetched_at": fetched_at, "parser_version": "t", "page_type": "article",
        "enrichment": {"version": "t", "language": {"code": "en", "confidence": 1.0}}}, "test")


def write(settings: Settings, events: list[dict], **options):
    async def go():
        async with es_client(settings) as client:
            await ensure_index(client, settings)
            result = await write_batch(client, [to_action(e, settings.index_alias, utc_now()) for e in events],
                                       require_alias=True, **options)
            await client.indices.refresh(index=f"{settings.index_alias}-v*")
            return result

    return asyncio.run(go())


def where(client: Elasticsearch, alias: str) -> dict[str, str]:
    """article id -> the physical index holding it, as searches through the alias see it."""
    hits = client.search(index=alias, size=100, query={"match_all": {}}, source=["title"])["hits"]["hits"]
    assert len(hits) == len({h["_id"] for h in hits}), "an article is in more than one index"
    return {h["_id"]: h["_index"] for h in hits}


A, B, C, D, E = (uuid.uuid4().hex for _ in range(5))


def test_each_article_stays_in_the_month_of_its_first_publication(months):
    settings, client = months
    alias, m = settings.index_alias, lambda month: index_name(settings.index_alias, 1, month)
    first = write(settings, [event(A, "2025-04-30", "2025-05-01T08:00:00Z"),
                             event(B, None, "2025-05-01T08:00:00Z"),                 # no date: the fetch month
                             event(C, "2025-03-02", "2025-05-01T08:00:00Z"),
                             event(C, "2025-03-03", "2025-05-01T09:00:00Z")])        # twice in one batch
    assert first.written == 4 and not first.rejected
    assert where(client, alias) == {A: m("2025.04"), B: m("2025.05"), C: m("2025.03")}
    # every month index sits behind the alias, made from the project's template
    in_alias = set(client.indices.get_alias(name=alias).body)
    assert {m("2025.03"), m("2025.04"), m("2025.05")} <= in_alias
    assert client.indices.get_mapping(index=m("2025.03")).body[m("2025.03")]["mappings"]["_meta"]["mapping_version"] >= 2

    # refetched: A's date moved to May, B got one, and both changed: they stay where they are
    again = write(settings, [event(A, "2025-05-02", "2025-06-01T08:00:00Z", "Meta hires more researchers"),
                             event(B, "2024-12-24", "2025-06-01T08:00:00Z", "Meta hires again")])
    assert again.written == 2
    assert where(client, alias) == {A: m("2025.04"), B: m("2025.05"), C: m("2025.03")}
    doc = client.get(index=m("2025.04"), id=A)
    assert doc["_source"]["published"] == "2025-05-02" and doc["_version"] > 1
    assert not client.indices.exists(index=m("2024.12"))

    # an older fetch of A, with yet another date, is refused by the external version in A's index
    older = write(settings, [event(A, "2025-01-01", "2025-05-15T08:00:00Z", "An old copy")])
    assert (older.written, older.conflicts) == (0, 1)
    assert client.get(index=m("2025.04"), id=A)["_source"]["title"] == "Meta hires more researchers"


def test_old_months_are_dropped_for_retention_and_the_rest_stays(months, capsys):
    settings, client = months
    alias, m = settings.index_alias, lambda month: index_name(settings.index_alias, 1, month)
    write(settings, [event(A, "2025-01-10", "2025-06-01T08:00:00Z"), event(B, "2025-02-10", "2025-06-01T08:00:00Z"),
                     event(C, "2025-03-10", "2025-06-01T08:00:00Z")])
    assert cli(["indices", "drop", "--before", "2025.03"]) == 0     # a dry run names them only
    assert m("2025.01") in capsys.readouterr().out
    assert set(where(client, alias)) == {A, B, C}

    assert cli(["indices", "drop", "--before", "2025.03", "--yes"]) == 0
    capsys.readouterr()
    assert not client.indices.exists(index=m("2025.01")) and not client.indices.exists(index=m("2025.02"))
    assert where(client, alias) == {C: m("2025.03")}
    assert cli(["indices", "list"]) == 0
    listed = capsys.readouterr().out
    assert m("2025.03") in listed and m("2025.01") not in listed
    assert cli(["indices", "drop", "--before", "2025-03"]) == 2     # not a month


def test_a_new_generation_is_built_beside_the_alias_and_swapped_in_atomically(months):
    settings, client = months
    alias = settings.index_alias
    write(settings, [event(A, "2025-04-10", "2025-06-01T08:00:00Z"), event(B, "2025-05-10", "2025-06-01T08:00:00Z")])
    old = sorted(client.indices.get_alias(name=alias).body)
    # what `newsflow reindex` does with months: write generation 2 by the same rule, outside the alias ...
    built = write(settings, [event(A, "2025-04-10", "2025-06-01T08:00:00Z"), event(B, "2025-05-10", "2025-06-01T08:00:00Z"),
                             event(D, "2025-06-10", "2025-06-01T08:00:00Z")], generation=2)
    assert built.written == 3
    new = sorted(client.indices.get(index=f"{alias}-v2-*").body)
    assert new == [index_name(alias, 2, "2025.04"), index_name(alias, 2, "2025.05"), index_name(alias, 2, "2025.06")]
    assert set(where(client, alias)) == {A, B}, "searches still answer from generation 1"
    # ... then one alias update: searches see generation 1 or generation 2, whole
    client.indices.update_aliases(actions=swap_actions(alias, old, new))
    assert where(client, alias) == {A: new[0], B: new[1], D: new[2]}
    assert all(client.indices.exists(index=name) for name in old), "the old generation is kept until deleted"
    # the live writer now places into generation 2
    write(settings, [event(C, "2025-04-11", "2025-06-02T08:00:00Z")])
    assert where(client, alias)[C] == index_name(alias, 2, "2025.04")


class AliasProbe(threading.Thread):
    """Searches the alias in a loop while a reindex runs: every answer must come whole from one
    generation, with every article."""

    def __init__(self, client: Elasticsearch, alias: str):
        super().__init__(daemon=True)
        self.client, self.alias, self.answers, self.stopped = client, alias, [], threading.Event()

    def run(self):
        while not self.stopped.is_set():
            hits = self.client.search(index=self.alias, size=100, source=False)["hits"]["hits"]
            self.answers.append((len(hits), {h["_index"].split("-v")[-1].split("-")[0] for h in hits}))

    def stop(self):
        self.stopped.set()
        self.join(30)


def test_reindex_rebuilds_every_month_from_the_topics_and_swaps_them_at_once(months, monkeypatch, capsys):
    settings, client = months
    monkeypatch.setenv("NEWSFLOW_TOPIC_PREFIX", f"{run_stem('months')}.")
    settings = Settings()
    get_settings.cache_clear()
    alias, m1, m2 = settings.index_alias, (lambda mo: index_name(alias, 1, mo)), (lambda mo: index_name(alias, 2, mo))
    asyncio.run(ensure_topics(settings))
    # A was first indexed from a fetch that dated it April, no longer on the topic (retention, a
    # compaction): its later fetch on the topic says May, and the rebuilt A stays in April.
    first_a = event(A, "2025-04-30", "2025-05-01T08:00:00Z")
    on_topic = [event(A, "2025-05-02", "2025-06-01T08:00:00Z", "Meta hires more researchers"),
                event(B, None, "2025-05-01T08:00:00Z"), event(C, "2025-03-02", "2025-05-01T08:00:00Z")]
    gone = event(D, "2025-02-10", "2025-05-01T08:00:00Z", "Meta hires no one")
    on_topic.append(gone)
    takedowns = [make_event("news.removed/1", D, uuid.uuid4().hex, {"url": gone["payload"]["url"], "status": 410,
                                                                       "removed_at": "2025-05-03T08:00:00Z"}, "test"),
                 make_event("news.removed/1", E, uuid.uuid4().hex, {"url": "https://x.example/never-indexed", "status": 404,
                                                                       "removed_at": "2025-01-20T08:00:00Z"}, "test")]
    send_raw(settings, "news.enriched", [encode(e, "news.enriched/1") for e in on_topic])
    send_raw(settings, "news.removed", [encode(e, "news.removed/1") for e in takedowns])

    async def live():  # what the index stage did with them, through the one write path
        async with es_client(settings) as es:
            await ensure_index(es, settings)
            for batch in ([first_a], on_topic):
                await write_events(es, [encode(e, "news.enriched/1") for e in batch], settings)
            await write_removals(es, [encode(e, "news.removed/1") for e in takedowns], settings)
            await es.indices.refresh(index=alias)

    asyncio.run(live())
    before = where(client, alias)
    assert before == {A: m1("2025.04"), B: m1("2025.05"), C: m1("2025.03"), D: m1("2025.02"), E: m1("2025.01")}
    assert client.get(index=m1("2025.02"), id=D)["_source"]["title"] == "Meta hires no one", "a takedown keeps the document"
    old = sorted(client.indices.get_alias(name=alias).body)

    probe = AliasProbe(client, alias)
    probe.start()
    try:
        assert cli(["reindex", "--quiet"]) == 0
    finally:
        probe.stop()
    said = capsys.readouterr().out
    assert f"{alias}-v2-2025.01..2025.05 (5 months)" in said and m1("2025.04") in said, said

    after = where(client, alias)
    assert after == {doc_id: index.replace("-v1-", "-v2-") for doc_id, index in before.items()}, "same months as before"
    assert sorted(client.indices.get_alias(name=alias).body) == [m2(mo) for mo in ("2025.01", "2025.02", "2025.03", "2025.04", "2025.05")]
    assert all(client.indices.exists(index=name) for name in old), "the old generation is kept until deleted"
    rebuilt_a = client.get(index=m2("2025.04"), id=A)["_source"]
    assert rebuilt_a["title"] == "Meta hires more researchers" and rebuilt_a["published"] == "2025-05-02"
    rebuilt_d = client.get(index=m2("2025.02"), id=D)["_source"]
    assert rebuilt_d["removed"] and rebuilt_d["removed_status"] == 410 and rebuilt_d["title"] == "Meta hires no one"
    assert client.get(index=m2("2025.01"), id=E)["_source"]["removed"]
    # every search during the reindex saw one generation, whole
    assert probe.answers and all(answer == (5, {"1"}) or answer == (5, {"2"}) for answer in probe.answers), \
        sorted(set(map(str, probe.answers)))


def test_the_search_api_finds_an_article_by_id_across_months(months, monkeypatch):
    settings, _ = months
    write(settings, [event(A, "2025-04-10", "2025-06-01T08:00:00Z"), event(B, "2025-05-10", "2025-06-01T08:00:00Z")])
    from newsflow.search import api

    monkeypatch.setattr(api, "settings", settings)
    with TestClient(api.app) as http:
        assert http.get(f"/articles/{B}").json()["published"] == "2025-05-10"
        assert http.get(f"/articles/{'f' * 32}").status_code == 404
        assert http.get(f"/articles/{A}/similar").status_code == 200
