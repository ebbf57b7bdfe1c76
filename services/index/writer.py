"""Bulk writes that never drop a document: transport errors and 429s are retried with backoff
and jitter (the agent waits meanwhile, so consumption pauses: backpressure), version conflicts
count as done, and only documents Elasticsearch rejects for what they are come back as failures."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_streaming_bulk

from ..core.logs import get_logger

log = get_logger("newsflow.index.writer")

MAX_BACKOFF_S = 30.0


@dataclass
class BatchResult:
    written: int = 0
    conflicts: int = 0      # an equal or newer version is already indexed: nothing to do
    rejected: dict[int, str] = field(default_factory=dict)   # action position -> Elasticsearch's reason


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


async def write_batch(es: AsyncElasticsearch, actions: list[dict], *, chunk_size: int = 500) -> BatchResult:
    result = BatchResult()
    pending = list(range(len(actions)))
    attempt = 0
    while pending:
        retry: list[int] = []
        position = 0
        try:
            stream = async_streaming_bulk(
                es, (actions[i] for i in pending), chunk_size=chunk_size, max_chunk_bytes=50 * 1024 * 1024,
                raise_on_error=False, max_retries=3, initial_backoff=1, max_backoff=MAX_BACKOFF_S, yield_ok=True,
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
                elif _retryable(status):
                    retry.append(index_of)
                else:
                    error = info.get("error", {})
                    result.rejected[index_of] = f"{status} {error.get('type', '')}: {error.get('reason', error)}"[:2000]
        except Exception as exc:  # noqa: BLE001 - transport down or timing out: retry the rest
            retry = retry + pending[position:]
            log.warning("bulk write failed, will retry", error=type(exc).__name__, reason=str(exc)[:300], pending=len(retry))
        pending = retry
        if pending:
            attempt += 1
            await asyncio.sleep(min(MAX_BACKOFF_S, 0.5 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.0))
    return result
