"""Bulk writes that never drop a document.

- Before writing, one `mget` of the batch's ids reads each stored document's content hash and
  version: an identical refetch is not rewritten, and an older version is not even sent.
- Bulk requests are bounded by count and bytes.
- Transport errors, 429s and 5xx are retried with exponential backoff and jitter, for as long
  as it takes; the caller waits meanwhile, so consumption pauses (backpressure).
- Version conflicts (a newer version is indexed) count as done.
- Only documents Elasticsearch rejects for what they are (mapping errors) come back as failures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TypeVar

from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.helpers import async_streaming_bulk

from ..core.backoff import backoff_delay
from ..core.logs import get_logger
from .documents import HISTORY_FIELDS, removal_action, with_history
from .placement import month_layout, place

log = get_logger("newsflow.index.writer")

MAX_BACKOFF_S = 10.0
MAX_CHUNK_BYTES = 10 * 1024 * 1024
T = TypeVar("T")


@dataclass
class BatchResult:
    written: int = 0
    conflicts: int = 0      # a newer version is already indexed: nothing to do
    unchanged: int = 0      # the same content is already indexed: not rewritten
    rejected: dict[int, str] = field(default_factory=dict)   # action position -> Elasticsearch's reason
    retries: int = 0        # attempts that failed for a transient reason and were repeated


def rejection_reason(status: int, error) -> str:
    """Elasticsearch's reason, each level of its cause chain shortened: a reason may quote a
    whole field value, and the cause (e.g. "immense term") is what tells why."""
    if not isinstance(error, dict):
        return f"{status} {error}"[:1000]
    parts = []
    while isinstance(error, dict) and len(parts) < 3:
        parts.append(f"{error.get('type', '')}: {str(error.get('reason', ''))[:400]}")
        error = error.get("caused_by")
    return f"{status} " + " | caused by ".join(parts)


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


async def retrying(call: Callable[[], Awaitable[T]], what: str, max_backoff_s: float = MAX_BACKOFF_S) -> T:
    """Await `call()` until it succeeds; transport errors, 429 and 5xx are waited out, other API
    errors (a bad request will not get better) are raised."""
    attempt = 0
    while True:
        try:
            return await call()
        except ApiError as exc:
            if not _retryable(exc.status_code):
                raise
            reason = f"{exc.status_code} {exc.error}"
        except Exception as exc:  # noqa: BLE001 - transport down or timing out
            reason = f"{type(exc).__name__}: {exc}"
        attempt += 1
        delay = backoff_delay(attempt, max_backoff_s)
        log.warning(f"{what} failed, will retry", reason=reason[:300], attempt=attempt, delay_s=round(delay, 2))
        await asyncio.sleep(delay)


async def _stored(es: AsyncElasticsearch, actions: list[dict], max_backoff_s: float) -> list[tuple[str, int, dict] | None]:
    """(content hash, version, history fields) of each action's stored document, None where
    there is none. mget is realtime: it sees writes not yet refreshed into search."""
    docs = [{"_index": a["_index"], "_id": a["_id"]} for a in actions]
    try:
        found = await retrying(lambda: es.mget(docs=docs, source_includes=HISTORY_FIELDS), "reading stored hashes",
                               max_backoff_s)
    except ApiError as exc:  # e.g. the alias was removed: write everything, the bulk tells the rest
        log.warning("could not read stored hashes", reason=f"{exc.status_code} {exc.error}")
        return [None] * len(actions)
    return [(d.get("_source", {}).get("content_hash"), int(d.get("_version", 0)), d.get("_source", {}))
            if d.get("found") else None for d in found["docs"]]


async def _plan(es: AsyncElasticsearch, actions: list[dict], result: BatchResult, max_backoff_s: float,
                stored: list[tuple[str, int, dict] | None] | None = None) -> list[int]:
    """The positions worth sending. Identical content is skipped even when the event is newer:
    a rewrite would change nothing a reader sees."""
    if stored is None:
        stored = await _stored(es, actions, max_backoff_s)
    current: dict[tuple[str, str], tuple[str, int, dict]] = {}
    send = []
    for position, action in enumerate(actions):
        key = (action["_index"], action["_id"])
        known = current.get(key) or stored[position]
        version = int(action["version"])
        if known and known[0] == action["_source"].get("content_hash") and not known[2].get("removed"):
            result.unchanged += 1
        elif known and known[1] > version:  # an older fetch; the same fetch reprocessed may replace
            result.conflicts += 1
        else:
            # first_seen, updated_at and revisions carry over from the stored document
            action["_source"] = with_history(action["_source"], version, known and known[2], known and known[1])
            send.append(position)
            current[key] = (action["_source"].get("content_hash"), version, action["_source"])
    return send


async def write_batch(es: AsyncElasticsearch, actions: list[dict], *, chunk_size: int = 500,
                      max_chunk_bytes: int = MAX_CHUNK_BYTES, max_backoff_s: float = MAX_BACKOFF_S,
                      skip_unchanged: bool = True, require_alias: bool = False,
                      generation: int | None = None) -> BatchResult:
    """Write the actions; returns only when every one is written, found unchanged or older, or
    rejected by Elasticsearch. With `require_alias` the actions must target an alias: a missing
    alias then stalls the writes (and says so) instead of auto-creating an unmapped index.

    When the actions' target is an alias over month indices (services/index/indices.py), each
    document goes to its article's month index (services/index/placement.py); `generation`
    places them in that generation's month indices instead, outside the alias (a reindex)."""
    result = BatchResult()
    options = {"require_alias": True} if require_alias else {}
    stored = None
    if actions:
        target = actions[0]["_index"]
        layout = await retrying(lambda: month_layout(es, target, generation), "reading the index layout", max_backoff_s)
        if layout is not None:
            stored = await retrying(lambda: place(es, layout, actions), "placing documents in month indices", max_backoff_s)
            options = {}  # the actions now name physical month indices, each made with the alias
    if skip_unchanged and actions:
        pending = await _plan(es, actions, result, max_backoff_s, stored)
    else:
        pending = list(range(len(actions)))
    attempt = 0
    while pending:
        retry: list[int] = []
        retry_reason = ""
        position = 0
        try:
            stream = async_streaming_bulk(
                es, (actions[i] for i in pending), chunk_size=chunk_size, max_chunk_bytes=max_chunk_bytes,
                raise_on_error=False, max_retries=0, yield_ok=True, **options,
            )
            async for ok, item in stream:
                index_of = pending[position]
                position += 1
                info = next(iter(item.values()))
                status = int(info.get("status", 0))
                if ok:
                    result.written += 1
                elif status == 409:
                    result.conflicts += 1
                elif _retryable(status) or (require_alias and status == 404):
                    retry.append(index_of)
                    retry_reason = retry_reason or rejection_reason(status, info.get("error", {}))
                else:
                    result.rejected[index_of] = rejection_reason(status, info.get("error", {}))
        except Exception as exc:  # noqa: BLE001 - transport down, 429 or 5xx for the whole request: retry the rest
            retry += pending[position:]
            retry_reason = f"{exc.status_code} {exc.error}" if isinstance(exc, ApiError) else f"{type(exc).__name__}: {exc}"
        pending = retry
        if pending:
            attempt += 1
            result.retries += 1
            delay = backoff_delay(attempt, max_backoff_s)
            log.warning("bulk write incomplete, will retry", reason=retry_reason[:300], pending=len(pending),
                        attempt=attempt, delay_s=round(delay, 2))
            await asyncio.sleep(delay)
    return result


async def _stored_documents(es: AsyncElasticsearch, index: str, ids: list[str], generation: int | None,
                            max_backoff_s: float) -> list[dict]:
    """The mget answer (one per id) for the stored documents of `ids` behind `index`: over month
    indices, each id is looked up in every month of the layout (an mget through an alias of
    several indices cannot answer), and the month that has it answers."""
    layout = await retrying(lambda: month_layout(es, index, generation), "reading the index layout", max_backoff_s)
    if layout is None:
        docs = [{"_index": index, "_id": doc_id} for doc_id in ids]
        return (await retrying(lambda: es.mget(docs=docs), "reading documents to mark removed", max_backoff_s))["docs"]
    docs = [{"_index": month, "_id": doc_id} for month in layout.months for doc_id in set(ids)]
    reply = (await retrying(lambda: es.mget(docs=docs), "reading documents to mark removed", max_backoff_s))["docs"] if docs else []
    found = {doc["_id"]: doc for doc in reply if doc.get("found")}
    return [found.get(doc_id, {"_id": doc_id, "found": False}) for doc_id in ids]


async def remove_batch(es: AsyncElasticsearch, events: list[dict], index: str, *, max_backoff_s: float = MAX_BACKOFF_S,
                       require_alias: bool = False, generation: int | None = None) -> BatchResult:
    """Mark the documents of news.removed events removed (see documents.removal_action): reads
    each stored document (realtime), writes it back with `removed` under the takedown's version.
    `generation`: in that generation's month indices, outside the alias (a reindex)."""
    if not events:
        return BatchResult()
    found = await _stored_documents(es, index, [e["id"] for e in events], generation, max_backoff_s)
    actions, positions, result = [], [], BatchResult()
    latest: dict[str, tuple[dict, int]] = {}  # a later event for the same id in this batch sees this one
    for position, (event, doc) in enumerate(zip(events, found)):
        stored = latest.get(event["id"]) or ((doc["_source"], int(doc["_version"])) if doc.get("found") else (None, None))
        action = removal_action(event, index, *stored)
        if action is None:
            result.conflicts += 1
            continue
        actions.append(action)
        positions.append(position)
        latest[event["id"]] = (action["_source"], action["version"])
    written = await write_batch(es, actions, max_backoff_s=max_backoff_s, skip_unchanged=False, require_alias=require_alias,
                                generation=generation)
    written.conflicts += result.conflicts
    written.rejected = {positions[i]: reason for i, reason in written.rejected.items()}  # by event position
    return written
