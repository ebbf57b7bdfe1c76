"""The index stage's pure function: a news.enriched event -> the Elasticsearch bulk action."""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

INPUT_SCHEMA = "news.enriched/1"
# Fields that say when and by whom a document was made, not what it says: left out of the
# content hash so an identical refetch hashes the same.
_VOLATILE = {"fetched_at", "indexed_at", "trace_id", "content_hash", "first_seen", "updated_at", "revisions",
             "removed", "removed_at", "removed_status"}
# The same for the enrichment: how long each component took, and the embedding, which follows
# from the text and the enrichment version (both hashed) but whose floats may differ in the
# last bits between machines.
_VOLATILE_ENRICHMENT = {"timings", "embedding"}
ENTITY_KINDS = ("persons", "organizations", "locations")


def external_version(fetched_at: str) -> int:
    """The fetch time in milliseconds: a replay of an older fetch never overwrites a newer one."""
    return int(datetime.fromisoformat(fetched_at.replace("Z", "+00:00")).timestamp() * 1000)


def content_hash(doc: dict) -> str:
    stable = {k: v for k, v in doc.items() if k not in _VOLATILE}
    if isinstance(stable.get("enrichment"), dict):
        stable["enrichment"] = {k: v for k, v in stable["enrichment"].items() if k not in _VOLATILE_ENRICHMENT}
    return hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _strings(values) -> list[str]:
    """Distinct non-empty strings in first-seen order; entity records give their name."""
    seen: dict[str, None] = {}
    for value in values if isinstance(values, list) else []:
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str) and name.strip():
            seen.setdefault(name.strip(), None)
    return list(seen)


def facets(enrichment: dict) -> dict:
    """Keyword facets lifted out of the enrichment to short top-level fields (for aggregations,
    the search API and Kibana). Every part of the enrichment may be missing."""
    out: dict = {}
    entities = enrichment.get("entities") if isinstance(enrichment.get("entities"), dict) else {}
    by_kind = {kind: names for kind in ENTITY_KINDS if (names := _strings(entities.get(kind)))}
    if by_kind:
        out["entities"] = by_kind
    if keywords := _strings(enrichment.get("keywords")):
        out["keywords"] = keywords
    topic = enrichment.get("topic")
    topic = topic.get("topic") if isinstance(topic, dict) else topic
    if isinstance(topic, str) and topic:
        out["topic"] = topic
    if isinstance(enrichment.get("cluster_id"), str) and enrichment["cluster_id"]:
        out["cluster_id"] = enrichment["cluster_id"]
    return out


def to_action(event: dict, index: str, indexed_at: str) -> dict:
    """news.enriched/1 -> a bulk `index` action with document id = article id, versioned
    externally by the fetch time. `external_gte`: an older fetch never overwrites a newer one,
    but the same fetch reprocessed (a replay with a better parser or enricher) may.
    Raises ValueError for a fetch time that is not ISO 8601."""
    payload = event["payload"]
    doc = {**payload, "id": event["id"], "trace_id": event["trace_id"], **facets(payload.get("enrichment") or {})}
    # An article no cluster was assigned to is a story of its own: search collapses copies on
    # cluster_id, and documents without one would all fold into a single "missing" group.
    doc.setdefault("cluster_id", event["id"])
    doc["content_hash"] = content_hash(doc)
    doc["indexed_at"] = indexed_at
    return {
        "_op_type": "index",
        "_index": index,
        "_id": event["id"],
        "version": external_version(doc["fetched_at"]),
        "version_type": "external_gte",
        "_source": doc,
    }


# ---- an article's life: revisions and removal -------------------------------------------------

HISTORY_FIELDS = ["content_hash", "fetched_at", "first_seen", "updated_at", "revisions", "removed"]


def with_history(source: dict, version: int, stored: dict | None, stored_version: int | None) -> dict:
    """The document to write, given the one stored (its HISTORY_FIELDS) and its version:
    `first_seen` is the first fetch's time and stays; a newer fetch whose content changed is one
    more of `revisions` and sets `updated_at`; the same fetch reprocessed (a replay with a
    better parser) changes neither. Pure; the writer calls it only for documents it will send."""
    fetched_at = source.get("fetched_at")
    if not stored:
        return {**source, "first_seen": fetched_at, "updated_at": fetched_at, "revisions": 1}
    first_seen = stored.get("first_seen") or stored.get("fetched_at") or fetched_at
    revisions = int(stored.get("revisions") or 1)
    if stored_version is not None and version > stored_version:
        return {**source, "first_seen": first_seen, "updated_at": fetched_at, "revisions": revisions + 1}
    return {**source, "first_seen": first_seen, "updated_at": stored.get("updated_at") or first_seen,
            "revisions": revisions}


REMOVED_SCHEMA = "news.removed/1"


def removal_action(event: dict, index: str, stored: dict | None, stored_version: int | None) -> dict | None:
    """news.removed/1 -> the bulk action that marks the article's document removed: the stored
    document (a bare one with the id and URL when none is stored) with `removed`, versioned by
    the time of the takedown, so a replay of any earlier fetch cannot bring it back. None when
    a fetch newer than the takedown is indexed already (the page came back)."""
    payload = event["payload"]
    version = external_version(payload["removed_at"])
    if stored_version is not None and stored_version > version:
        return None
    source = dict(stored) if stored else {"id": event["id"], "url": payload["url"], "trace_id": event["trace_id"]}
    source.update(removed=True, removed_at=payload["removed_at"], removed_status=payload["status"])
    return {"_op_type": "index", "_index": index, "_id": event["id"], "version": version,
            "version_type": "external_gte", "_source": source}
