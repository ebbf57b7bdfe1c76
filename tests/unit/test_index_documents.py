"""The index stage's pure part: bulk actions, external versions, content hashes."""

from newsflow.core.envelope import make_event
from newsflow.index.documents import content_hash, external_version, removal_action, to_action, with_history


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


def test_history_keeps_first_seen_and_counts_revisions_of_newer_fetches_only():
    source = {"fetched_at": "2025-06-25T00:00:00Z", "text": "b"}
    assert with_history(source, 2, None, None) | {} == {**source, "first_seen": source["fetched_at"],
                                                        "updated_at": source["fetched_at"], "revisions": 1}
    stored = {"first_seen": "2025-06-24T00:00:00Z", "updated_at": "2025-06-24T00:00:00Z", "revisions": 1}
    newer = with_history(source, 2, stored, 1)
    assert (newer["first_seen"], newer["updated_at"], newer["revisions"]) == ("2025-06-24T00:00:00Z", source["fetched_at"], 2)
    reprocessed = with_history(source, 2, {**stored, "revisions": 2, "updated_at": "2025-06-25T00:00:00Z"}, 2)
    assert (reprocessed["revisions"], reprocessed["updated_at"]) == (2, "2025-06-25T00:00:00Z")
    legacy = with_history(source, 2, {"fetched_at": "2025-06-20T00:00:00Z"}, 1)  # indexed before history existed
    assert (legacy["first_seen"], legacy["revisions"]) == ("2025-06-20T00:00:00Z", 2)
    assert content_hash({"a": 1, "revisions": 3, "first_seen": "x"}) == content_hash({"a": 1})


def test_a_removal_is_versioned_by_the_takedown_and_yields_to_a_newer_fetch():
    removed = {"id": "a" * 32, "trace_id": "t", "payload": {"url": "https://x.org/a", "status": 410,
                                                             "removed_at": "2025-06-25T00:00:00Z"}}
    stored = {"id": "a" * 32, "title": "T", "revisions": 2}
    action = removal_action(removed, "articles", stored, external_version("2025-06-24T00:00:00Z"))
    assert action["version"] == external_version("2025-06-25T00:00:00Z") and action["version_type"] == "external_gte"
    assert action["_source"] == {**stored, "removed": True, "removed_at": "2025-06-25T00:00:00Z", "removed_status": 410}
    bare = removal_action(removed, "articles", None, None)  # not indexed (yet): a tombstone keeps replays out
    assert bare["_source"]["removed"] and bare["_source"]["url"] == "https://x.org/a"
    assert removal_action(removed, "articles", stored, external_version("2025-06-26T00:00:00Z")) is None
