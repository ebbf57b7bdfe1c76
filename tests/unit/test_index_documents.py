"""The index stage's pure part: bulk actions, external versions, content hashes."""

from newsflow.core.envelope import make_event
from newsflow.index.documents import content_hash, external_version, to_action


def _enriched(fetched_at="2025-06-24T10:00:00.000Z", text="Body"):
    payload = {"url": "https://x.org/a", "final_url": "https://x.org/a", "title": "T", "text": text,
               "fetched_at": fetched_at, "parser_version": "p", "page_type": "article",
               "enrichment": {"version": "e", "language": {"code": "de", "confidence": 0.9}}}
    return make_event("news.enriched/1", "c" * 32, "d" * 32, payload, "enrich")


def test_action_is_idempotent_by_article_id_and_versioned_by_fetch_time():
    action = to_action(_enriched(), "articles", "2025-06-24T11:00:00Z")
    assert action["_id"] == "c" * 32 and action["_index"] == "articles"
    assert action["version_type"] == "external_gte"
    assert action["version"] == external_version("2025-06-24T10:00:00.000Z") == 1750759200000


def test_a_later_fetch_has_a_higher_version():
    assert external_version("2025-06-24T10:00:01Z") > external_version("2025-06-24T10:00:00Z")


def test_content_hash_ignores_when_but_not_what():
    a = to_action(_enriched("2025-06-24T10:00:00Z"), "articles", "x")["_source"]
    b = to_action(_enriched("2025-06-25T10:00:00Z"), "articles", "y")["_source"]
    c = to_action(_enriched(text="Changed body"), "articles", "x")["_source"]
    assert a["content_hash"] == b["content_hash"] != c["content_hash"]
    assert content_hash(a) == a["content_hash"]


def test_enrichment_facets_are_lifted_to_keyword_fields():
    event = _enriched()
    event["payload"]["enrichment"].update({
        "entities": {"persons": [{"name": "Mark Zuckerberg", "count": 3, "first_offset": 0},
                                 {"name": "Mark Zuckerberg", "count": 1, "first_offset": 9}],
                     "organizations": [{"name": "Meta", "count": 2, "first_offset": 4}], "locations": []},
        "keywords": ["KI", "Talente"], "topic": {"topic": "technology", "scores": {"technology": 0.8}},
        "cluster_id": "c1", "embedding": [0.0] * 384,
    })
    source = to_action(event, "articles", "x")["_source"]
    assert source["entities"] == {"persons": ["Mark Zuckerberg"], "organizations": ["Meta"]}
    assert (source["keywords"], source["topic"], source["cluster_id"]) == (["KI", "Talente"], "technology", "c1")
    assert len(source["enrichment"]["embedding"]) == 384  # mapped in place as a dense_vector


def test_missing_or_odd_enrichment_parts_leave_the_facets_out():
    event = _enriched()
    event["payload"]["enrichment"].update({"entities": None, "keywords": "not a list", "topic": None})
    source = to_action(event, "articles", "x")["_source"]
    assert not {"entities", "keywords", "topic"} & source.keys()


def test_an_article_without_a_cluster_is_a_cluster_of_its_own():
    event = _enriched()
    event["payload"]["enrichment"].pop("cluster_id", None)
    assert to_action(event, "articles", "x")["_source"]["cluster_id"] == event["id"]


def test_embedding_noise_and_timings_are_not_a_content_change():
    a, b = _enriched(), _enriched()
    a["payload"]["enrichment"].update(embedding=[0.1] * 384, timings={"entities": 0.31})
    b["payload"]["enrichment"].update(embedding=[0.1000001] * 384, timings={"entities": 0.29})
    assert to_action(a, "articles", "x")["_source"]["content_hash"] == to_action(b, "articles", "y")["_source"]["content_hash"]
