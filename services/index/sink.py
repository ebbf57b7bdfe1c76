"""The one index write path: enriched events -> documents in Elasticsearch, through an alias.

The index service, `newsflow replay --topic news.enriched` and `newsflow reindex` all write
with `write_events`, so all of them validate the same way, build the same documents, never
auto-create an index (`require_alias`: a missing alias stalls the writes and says so), and
skip unchanged or older documents the same way. Each caller decides what a failure becomes:
a dead letter (service, replay) or a count (reindex, whose inputs the live pipeline has
dead-lettered already).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from elasticsearch import AsyncElasticsearch

from ..core.envelope import decode, epoch_seconds, utc_now
from ..core.settings import Settings
from .documents import INPUT_SCHEMA, to_action
from .writer import BatchResult, write_batch


@dataclass(frozen=True)
class Failure:
    position: int               # of the input in the batch
    error: Exception | str
    reason: str
    event: dict | None          # the decoded event, when it could be decoded


@dataclass
class Written:
    result: BatchResult
    failures: list[Failure] = field(default_factory=list)
    freshest_fetch: float | None = None  # epoch seconds of the latest fetched_at among the valid events


def decode_enriched(raw: bytes | None) -> dict:
    return decode(raw, INPUT_SCHEMA)


async def write_events(es: AsyncElasticsearch, values: list[bytes | None], settings: Settings, *,
                       alias: str | None = None, to_event: Callable[[bytes | None], dict] = decode_enriched,
                       generation: int | None = None) -> Written:
    """Write the events' documents through `alias` (the settings' alias by default); returns
    once every document is written, unchanged, older than the stored one, or failed. With
    `generation` (a reindex of month indices), into that generation's month indices of the
    alias's naming, beside the alias (writer.write_batch)."""
    alias = alias or settings.index_alias
    indexed_at = utc_now()
    actions, origins, failures = [], [], []
    for position, value in enumerate(values):
        event = None
        try:
            event = to_event(value)
            actions.append(to_action(event, alias, indexed_at))
        except Exception as exc:  # noqa: BLE001 - invalid or unindexable input fails alone
            failures.append(Failure(position, exc, str(exc), event))
            continue
        origins.append((position, event))
    result = BatchResult()
    fetched = [epoch_seconds(event["payload"].get("fetched_at")) for _, event in origins]
    freshest = max((t for t in fetched if t is not None), default=None)
    if actions:
        result = await write_batch(es, actions, chunk_size=settings.index_batch_size,
                                   max_chunk_bytes=settings.index_batch_bytes,
                                   max_backoff_s=settings.index_max_backoff_s, require_alias=True,
                                   generation=generation)
    for action_position, reason in result.rejected.items():
        position, event = origins[action_position]
        failures.append(Failure(position, "RejectedByElasticsearch", reason, event))
    return Written(result, sorted(failures, key=lambda f: f.position), freshest)
