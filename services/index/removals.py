"""Takedowns: news.removed events -> the articles' documents marked removed, through the alias.

They come from the fetch stage's scheduled refetches (a 404 or 410). The index service's
second agent writes them with `write_removals`, in the same shell and with the same outcome
per input as the articles (sink.py): done once Elasticsearch has the document, else a failure
that the caller dead-letters."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

from ..core.envelope import decode
from ..core.settings import Settings
from .documents import REMOVED_SCHEMA
from .sink import Failure, Written
from .writer import remove_batch


async def write_removals(es: AsyncElasticsearch, values: list[bytes | None], settings: Settings, *,
                         alias: str | None = None, generation: int | None = None) -> Written:
    decoded, positions, failures = [], [], []
    for position, value in enumerate(values):
        try:
            decoded.append(decode(value, REMOVED_SCHEMA))
            positions.append(position)
        except Exception as exc:  # noqa: BLE001 - an unreadable takedown is its own dead letter
            failures.append(Failure(position, exc, str(exc), None))
    result = await remove_batch(es, decoded, alias or settings.index_alias, max_backoff_s=settings.index_max_backoff_s,
                                require_alias=True, generation=generation)
    for action_position, reason in result.rejected.items():
        failures.append(Failure(positions[action_position], "RejectedByElasticsearch", reason, decoded[action_position]))
    return Written(result, sorted(failures, key=lambda f: f.position))
