"""Pure builders of Elasticsearch request bodies from validated API parameters: nothing a
caller sends reaches Elasticsearch except as a value inside these bodies."""

from __future__ import annotations

SEARCH_FIELDS = ["title^3", "lead^2", "text"]
FACETS = {"site": "site", "language": "language", "page_type": "page_type"}
HIT_FIELDS = ["id", "url", "final_url", "title", "published", "language", "site", "site_name", "author", "lead"]


def search_body(q: str, *, size: int, offset: int, language: str | None = None, site: str | None = None) -> dict:
    filters = [{"term": {field: value}} for field, value in (("language", language), ("site", site)) if value]
    return {
        "query": {
            "bool": {
                # simple_query_string never fails on syntax: "+", "-", quotes and "*" only.
                "must": [{"simple_query_string": {"query": q, "fields": SEARCH_FIELDS, "default_operator": "or"}}],
                "filter": filters,
            }
        },
        "from": offset,
        "size": size,
        "track_total_hits": True,
        "_source": HIT_FIELDS,
        "highlight": {
            "pre_tags": ["<mark>"], "post_tags": ["</mark>"],
            "fields": {"title": {"number_of_fragments": 0}, "lead": {}, "text": {"fragment_size": 160, "number_of_fragments": 2}},
        },
        "aggs": {name: {"terms": {"field": field, "size": 20}} for name, field in FACETS.items()},
    }


def to_hit(hit: dict) -> dict:
    source = hit.get("_source", {})
    return {
        "id": hit["_id"],
        "url": source.get("final_url") or source.get("url"),
        "title": source.get("title"),
        "published": source.get("published"),
        "language": source.get("language"),
        "site": source.get("site"),
        "author": source.get("author"),
        "score": hit.get("_score"),
        "highlight": hit.get("highlight", {}),
    }


def to_facets(aggregations: dict) -> dict:
    return {
        name: [{"value": b["key"], "count": b["doc_count"]} for b in agg.get("buckets", [])]
        for name, agg in (aggregations or {}).items()
    }
