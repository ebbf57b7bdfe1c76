"""The index stage's pure function: a news.enriched event -> the Elasticsearch bulk action."""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

INPUT_SCHEMA = "news.enriched/1"
# Fields that say when and by whom a document was made, not what it says: left out of the
# content hash so an identical refetch hashes the same.
_VOLATILE = {"fetched_at", "indexed_at", "trace_id", "content_hash"}


def external_version(fetched_at: str) -> int:
    """The fetch time in milliseconds: a replay of an older fetch never overwrites a newer one."""
    return int(datetime.fromisoformat(fetched_at.replace("Z", "+00:00")).timestamp() * 1000)


def content_hash(doc: dict) -> str:
    stable = {k: v for k, v in doc.items() if k not in _VOLATILE}
    return hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def to_action(event: dict, index: str, indexed_at: str) -> dict:
    """news.enriched/1 -> a bulk `index` action with document id = article id, versioned
    externally by the fetch time."""
    doc = {**event["payload"], "id": event["id"], "trace_id": event["trace_id"]}
    doc["content_hash"] = content_hash(doc)
    doc["indexed_at"] = indexed_at
    return {
        "_op_type": "index",
        "_index": index,
        "_id": event["id"],
        "version": external_version(doc["fetched_at"]),
        "version_type": "external",
        "_source": doc,
    }
