"""The search API's request bodies: caller input only ever lands as values."""

from datetime import date

import pytest

from newsflow.search.query import (NOT_REMOVED, SEARCH_FIELDS, SearchRequest, cluster_count, decode_cursor, encode_cursor, next_offset,
                                   search_body, to_facets, to_hit)


def test_query_text_is_a_simple_query_string_value():
    body = search_body(SearchRequest(q='{"script": "x"} OR title:(a)'))
    must = body["query"]["bool"]["must"][0]
    assert must == {"simple_query_string": {"query": '{"script": "x"} OR title:(a)', "fields": SEARCH_FIELDS,
                                            "default_operator": "or"}}


def test_no_query_matches_everything_and_filters_apply():
    body = search_body(SearchRequest(language=["de"], site=["a.org"], entity=["Meta"], cluster="c1",
                                     published_from=date(2025, 6, 1), published_to=date(2025, 6, 30)))
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"language": ["de"]}} in filters and {"terms": {"site": ["a.org"]}} in filters
    assert {"term": {"cluster_id": "c1"}} in filters
    assert {"range": {"published": {"gte": "2025-06-01", "lte": "2025-06-30"}}} in filters
    entity = next(f for f in filters if "bool" in f)
    assert entity["bool"]["minimum_should_match"] == 1 and len(entity["bool"]["should"]) == 3


def test_cursor_round_trips_and_replaces_from():
    cursor = encode_cursor([1.5, "2025-06-24", "abc"])
    body = search_body(SearchRequest(cursor=cursor, offset=20))
    assert body["search_after"] == [1.5, "2025-06-24", "abc"] and "from" not in body


@pytest.mark.parametrize("bad", ["", "!!!", encode_cursor({"a": 1}), encode_cursor([1, 2]), encode_cursor([{}, 1, 2])])
def test_foreign_cursors_are_refused(bad):
    with pytest.raises(ValueError):
        decode_cursor(bad)


def test_facets_tolerate_missing_aggregations():
    facets = to_facets(None)
    assert facets["language"] == [] and facets["over_time"] == []


def test_semantic_mode_is_a_knn_search_with_the_filters_inside():
    body = search_body(SearchRequest(q="AI hiring", mode="semantic", language=["de"], size=5), [0.1] * 384)
    assert "query" not in body and body["sort"] == ["_score"]
    assert body["knn"]["field"] == "enrichment.embedding" and body["knn"]["k"] == 5
    assert body["knn"]["filter"] == [{"terms": {"language": ["de"]}}, NOT_REMOVED]


def test_hybrid_mode_adds_knn_to_the_text_query():
    body = search_body(SearchRequest(q="AI hiring", mode="hybrid"), [0.1] * 384)
    assert body["knn"]["query_vector"] == [0.1] * 384
    assert body["query"]["bool"]["must"][0]["simple_query_string"]["query"] == "AI hiring"


def test_semantic_mode_without_a_vector_is_an_error():
    with pytest.raises(ValueError):
        search_body(SearchRequest(q="x", mode="semantic"))


def test_collapse_folds_on_the_cluster_with_its_copies_and_counts_clusters():
    body = search_body(SearchRequest(q="Meta", collapse=True, offset=10))
    assert body["collapse"]["field"] == "cluster_id" and body["collapse"]["inner_hits"]["name"] == "copies"
    assert body["from"] == 10
    # facets still count articles (plain terms) and also say how many clusters
    assert body["aggs"]["site"]["terms"]["field"] == "site"
    assert body["aggs"]["site"]["aggs"]["clusters"]["cardinality"]["field"] == "cluster_id"
    assert body["aggs"]["clusters"]["cardinality"]["field"] == "cluster_id"
    assert "collapse" not in search_body(SearchRequest(q="Meta")) and "clusters" not in search_body(SearchRequest())["aggs"]


def test_collapse_refuses_a_cursor_and_widens_knn():
    with pytest.raises(ValueError):
        search_body(SearchRequest(collapse=True, cursor=encode_cursor([1, "x", "y"])))
    body = search_body(SearchRequest(q="AI", mode="semantic", collapse=True, size=5), [0.1] * 384)
    assert body["knn"]["k"] == 20 and "collapse" in body


def test_a_collapsed_hit_lists_its_other_copies():
    def copy(i, site):
        return {"_id": i, "_source": {"url": f"https://{site}/a", "title": "T", "site": site, "published": "2025-06-01"}}
    hit = {"_id": "a", "_score": 1.0, "_source": {"url": "https://one/a", "title": "T"},
           "inner_hits": {"copies": {"hits": {"total": {"value": 3}, "hits": [copy("b", "two"), copy("a", "one"), copy("c", "three")]}}}}
    copies = to_hit(hit)["copies"]
    assert copies["count"] == 2 and [c["id"] for c in copies["hits"]] == ["b", "c"]
    assert copies["hits"][0]["url"] == "https://two/a"
    assert "copies" not in to_hit({"_id": "a", "_source": {}})


def test_collapsed_facets_carry_cluster_counts_and_pages_go_by_offset():
    aggs = {"site": {"buckets": [{"key": "a.org", "doc_count": 3, "clusters": {"value": 2}}]},
            "over_time": {"buckets": [{"key_as_string": "2025-06-01T00:00:00.000Z", "doc_count": 3, "clusters": {"value": 2}}]},
            "clusters": {"value": 2}}
    facets = to_facets(aggs)
    assert facets["site"] == [{"value": "a.org", "count": 3, "clusters": 2}]
    assert facets["over_time"] == [{"month": "2025-06", "count": 3, "clusters": 2}]
    assert cluster_count(aggs) == 2 and cluster_count(None) is None
    assert next_offset(SearchRequest(size=2, offset=0, collapse=True), 2, 5) == 2
    assert next_offset(SearchRequest(size=2, offset=4, collapse=True), 1, 5) is None
    assert next_offset(SearchRequest(size=2, offset=2, collapse=True), 2, 4) is None


def test_removed_articles_are_hidden_unless_asked_for():
    assert NOT_REMOVED in search_body(SearchRequest(q="x"))["query"]["bool"]["filter"]
    assert NOT_REMOVED not in search_body(SearchRequest(q="x", include_removed=True))["query"]["bool"]["filter"]
    hit = to_hit({"_id": "a", "_source": {"removed": True, "removed_at": "2025-06-25T00:00:00Z", "revisions": 2}})
    assert hit["removed"] is True and hit["revisions"] == 2
    assert "removed" not in to_hit({"_id": "a", "_source": {}})
