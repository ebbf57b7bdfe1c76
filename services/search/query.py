"""Pure builders of Elasticsearch request bodies from validated API parameters: nothing a
caller sends reaches Elasticsearch except as a value inside these bodies."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date

import orjson

# Each text field has German and English stemmed sub-fields (services/index/template.json): an
# inflected form ("Talent" for "Talente") matches through them; an exact form also scores on
# the folded field itself (simple_query_string adds up the fields), so it ranks higher.
TEXT_FIELDS = {"title": 3, "lead": 2, "text": 1}
LANGUAGE_SUBFIELDS = ("de", "en")
SEARCH_FIELDS = [f"{name}^{boost}" for name, boost in TEXT_FIELDS.items()] + [
    f"{name}.{lang}^{boost * 2 / 3:g}" for name, boost in TEXT_FIELDS.items() for lang in LANGUAGE_SUBFIELDS]
_HIGHLIGHT = {"title": {"number_of_fragments": 0}, "lead": {}, "text": {"fragment_size": 160, "number_of_fragments": 2}}
HIT_FIELDS = ["id", "url", "final_url", "title", "published", "language", "site", "site_name", "author", "lead",
              "topic", "cluster_id", "first_seen", "updated_at", "revisions", "removed", "removed_at"]
# Articles a refetch found gone (404/410) are hidden unless asked for.
NOT_REMOVED = {"bool": {"must_not": [{"term": {"removed": True}}]}}
# facet name -> keyword field of the index mapping
FACETS = {
    "site": "site",
    "language": "language",
    "topic": "topic",
    "persons": "entities.persons",
    "organizations": "entities.organizations",
    "locations": "entities.locations",
}
ENTITY_FIELDS = ["entities.persons", "entities.organizations", "entities.locations"]
SORTS = {
    # the id tie-breaker makes search_after pages stable
    "relevance": [{"_score": "desc"}, {"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
    "date": [{"published": {"order": "desc", "missing": "_last"}}, {"_score": "desc"}, {"id": "asc"}],
}


EMBEDDING_FIELD = "enrichment.embedding"
# collapse=cluster: one hit per near-duplicate cluster (the best-ranked copy), with up to this
# many of the cluster's copies that match the same query, newest first.
COLLAPSE_FIELD = "cluster_id"
COPIES_SHOWN = 5
COPY_FIELDS = ["id", "url", "final_url", "title", "site", "published"]
# Distinct clusters are counted with cardinality, exact in practice below this many.
CLUSTER_PRECISION = 40_000


@dataclass(frozen=True)
class SearchRequest:
    q: str | None = None
    mode: str = "keyword"          # keyword | semantic (kNN on the embedding) | hybrid (both, scores added)
    site: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    entity: list[str] = field(default_factory=list)
    cluster: str | None = None
    published_from: date | None = None
    published_to: date | None = None
    sort: str = "relevance"
    size: int = 10
    offset: int = 0
    cursor: str | None = None
    collapse: bool = False         # one hit per cluster of near-duplicates
    include_removed: bool = False  # also articles taken down since they were indexed


def encode_cursor(sort_values: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode("ascii")


def decode_cursor(cursor: str) -> list:
    """A cursor is only ever a list of sort values we produced; anything else is refused."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, orjson.JSONDecodeError):
        raise ValueError("cursor is not one this API issued") from None
    if not isinstance(values, list) or len(values) != 3 or not all(isinstance(v, (int, float, str, type(None))) for v in values):
        raise ValueError("cursor is not one this API issued")
    return values


def _filters(req: SearchRequest) -> list[dict]:
    filters = [{"terms": {FACETS[name]: values}} for name, values in
               (("site", req.site), ("language", req.language), ("topic", req.topic)) if values]
    for name in req.entity:  # every named entity must appear, whatever its type
        filters.append({"bool": {"should": [{"term": {f: name}} for f in ENTITY_FIELDS], "minimum_should_match": 1}})
    if req.cluster:
        filters.append({"term": {"cluster_id": req.cluster}})
    if req.published_from or req.published_to:
        bounds = {"gte": req.published_from and req.published_from.isoformat(),
                  "lte": req.published_to and req.published_to.isoformat()}
        filters.append({"range": {"published": {k: v for k, v in bounds.items() if v}}})
    if not req.include_removed:
        filters.append(NOT_REMOVED)
    return filters


def text_query(q: str | None) -> dict:
    if not q:
        return {"match_all": {}}
    # simple_query_string never fails on syntax: words, "phrases", +, -, | and prefix*.
    return {"simple_query_string": {"query": q, "fields": SEARCH_FIELDS, "default_operator": "or"}}


def search_body(req: SearchRequest, query_vector: list[float] | None = None) -> dict:
    """The request for a search; semantic and hybrid modes need the query's embedding."""
    filters = _filters(req)
    body = {
        "query": {"bool": {"must": [text_query(req.q)], "filter": filters}},
        "size": req.size,
        "sort": SORTS[req.sort],
        "track_total_hits": True,
        "_source": HIT_FIELDS,
        "highlight": {
            "pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html",
            "fields": {**_HIGHLIGHT, **{f"{name}.{lang}": spec for name, spec in _HIGHLIGHT.items() for lang in LANGUAGE_SUBFIELDS}},
        },
        "aggs": _aggregations(req.collapse),
    }
    if req.collapse:
        if req.cursor:
            raise ValueError("collapse=cluster pages with offset, not cursor")
        body["collapse"] = {"field": COLLAPSE_FIELD, "inner_hits": {
            "name": "copies", "size": COPIES_SHOWN, "_source": COPY_FIELDS,
            "sort": [{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]}}
    if req.mode in ("semantic", "hybrid"):
        if query_vector is None:
            raise ValueError(f"{req.mode} search needs the query's embedding")
        # Collapsing folds several of the k nearest into one hit: ask for more of them.
        k = min(10_000, (req.offset + req.size) * (4 if req.collapse else 1))
        body["knn"] = {"field": EMBEDDING_FIELD, "query_vector": query_vector, "k": k,
                       "num_candidates": max(100, 2 * k), "filter": filters}
        if req.mode == "semantic":  # the nearest articles alone; the filters apply inside knn
            del body["query"]
        body["sort"] = ["_score"]  # nearest first; search_after has no stable meaning here
    if req.cursor:
        body["search_after"] = decode_cursor(req.cursor)
    else:
        body["from"] = req.offset
    return body


def _aggregations(collapse: bool) -> dict:
    """Facets count articles, whether or not hits are collapsed: a facet value's count is how
    many matching articles have it, as `total` counts articles. Collapsed, each bucket also
    says how many distinct clusters (stories) those articles belong to, and `clusters` counts
    them over all matching articles: the number of collapsed hits."""
    clusters = {"clusters": {"cardinality": {"field": COLLAPSE_FIELD, "precision_threshold": CLUSTER_PRECISION}}}
    sub = {"aggs": clusters} if collapse else {}
    aggs = {
        **{name: {"terms": {"field": f, "size": 10}, **sub} for name, f in FACETS.items()},
        "over_time": {"date_histogram": {"field": "published", "calendar_interval": "month", "min_doc_count": 1}, **sub},
    }
    return {**aggs, **clusters} if collapse else aggs


def similar_body(article_id: str, index: str, size: int) -> dict:
    """More-like-this on the article's own text: works on any Elasticsearch, no vectors needed.
    Articles taken down are not suggested."""
    like = {"more_like_this": {
        "fields": ["title", "lead", "text"], "like": [{"_index": index, "_id": article_id}],
        "min_term_freq": 1, "min_doc_freq": 1, "max_query_terms": 40, "min_word_length": 3,
        # short articles share few distinctive terms; the default 30% finds almost nothing
        "minimum_should_match": "10%",
    }}
    return {
        "query": {"bool": {"must": [like], "filter": [NOT_REMOVED]}},
        "size": size,
        "_source": HIT_FIELDS,
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
        "lead": source.get("lead"),
        "topic": source.get("topic"),
        "cluster_id": source.get("cluster_id"),
        "first_seen": source.get("first_seen"),
        "updated_at": source.get("updated_at"),
        "revisions": source.get("revisions"),
        **({"removed": True, "removed_at": source.get("removed_at")} if source.get("removed") else {}),
        "score": hit.get("_score"),
        "highlight": _merged_highlight(hit.get("highlight", {})),
        **_copies(hit),
    }


def _copies(hit: dict) -> dict:
    """A collapsed hit's other copies (those matching the same query): how many, and the first
    few with their links. Nothing for a hit that was not collapsed."""
    inner = hit.get("inner_hits", {}).get("copies", {}).get("hits")
    if inner is None:
        return {}
    others = [c for c in inner.get("hits", []) if c["_id"] != hit["_id"]]
    total = inner.get("total", {}).get("value", len(inner.get("hits", [])))
    return {"copies": {"count": max(0, total - 1), "hits": [_copy(c) for c in others[:COPIES_SHOWN - 1]]}}


def _copy(hit: dict) -> dict:
    source = hit.get("_source", {})
    return {"id": hit["_id"], "url": source.get("final_url") or source.get("url"), "title": source.get("title"),
            "site": source.get("site"), "published": source.get("published")}


def _merged_highlight(highlight: dict) -> dict:
    """Fragments of a stemmed sub-field ("text.de") under their field ("text"), the first
    one that has any: callers see the fields they know."""
    merged: dict = {}
    for name in sorted(highlight, key=lambda f: "." in f):
        merged.setdefault(name.split(".")[0], highlight[name])
    return merged


def _clusters(bucket: dict) -> dict:
    return {"clusters": bucket["clusters"]["value"]} if "clusters" in bucket else {}


def to_facets(aggregations: dict | None) -> dict:
    aggregations = aggregations or {}
    facets = {
        name: [{"value": b["key"], "count": b["doc_count"], **_clusters(b)}
               for b in aggregations.get(name, {}).get("buckets", [])]
        for name in FACETS
    }
    facets["over_time"] = [{"month": b["key_as_string"][:7], "count": b["doc_count"], **_clusters(b)}
                           for b in aggregations.get("over_time", {}).get("buckets", [])]
    return facets


def cluster_count(aggregations: dict | None) -> int | None:
    """Distinct clusters among the matching articles (collapsed searches only)."""
    return (aggregations or {}).get("clusters", {}).get("value")


def next_offset(req: SearchRequest, returned: int, groups: int | None) -> int | None:
    """Collapsed results page by offset (search_after cannot follow a collapse on another
    field than the sort): the offset of the next page, if there is one."""
    following = req.offset + returned
    return following if returned == req.size and (groups is None or following < groups) and following < 10_000 else None


def next_cursor(hits: list[dict], size: int) -> str | None:
    return encode_cursor(hits[-1]["sort"]) if len(hits) == size and hits and "sort" in hits[-1] else None
