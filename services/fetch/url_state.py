"""Where the fetch stage keeps its per-URL state (state.py): an Elasticsearch index beside the
alias (`<alias>-state-urls`, see core/state_index.py), one document per article id.

- the handler reads a URL's state by id (realtime GET: the write of the fetch before is seen)
  and writes it back after each fetch, with `due_at`, the time of its next scheduled refetch;
- the refetch check asks for `due_at <= now` (an indexed field), so it never walks all URLs;
- the sweep deletes states whose last fetch is older than NEWSFLOW_FETCH_URL_STATE_RETENTION.

Nothing of it is held in the worker: memory and start-up time do not grow with the URLs seen.
`MappingState` is the same interface over a dict, for the pure tests and offline use."""

from __future__ import annotations

from typing import MutableMapping

from elasticsearch import AsyncElasticsearch

from ..core.settings import Settings
from ..core.state_index import StateIndex, sweep_older, unavailable_as_dependency
from .refetch import next_due_at
from .state import UrlState

PROPERTIES = {
    "fetched_at": {"type": "double"},   # retention
    "due_at": {"type": "double"},       # the refetch schedule's next point, absent when none is left
}


class MappingState:
    """The state interface over a plain dict (tests, offline)."""

    def __init__(self, data: MutableMapping[str, UrlState]):
        self.data = data

    async def aget(self, key: str) -> UrlState | None:
        return self.data.get(key)

    async def aput(self, key: str, state: UrlState) -> None:
        self.data[key] = state


def state_document(state: UrlState, schedule: tuple[float, ...]) -> dict:
    """The stored document: the state and, while a refetch is left, when it falls due."""
    doc = {k: v for k, v in state.items() if k != "due_at"}
    due = next_due_at(doc, schedule)
    if due is not None:
        doc["due_at"] = due
    return doc


class EsUrlState(StateIndex):
    """The URL state in Elasticsearch."""

    def __init__(self, settings: Settings, schedule: tuple[float, ...], es: AsyncElasticsearch | None = None):
        super().__init__(settings, "urls", PROPERTIES, es)
        self.schedule = schedule

    async def aget(self, key: str) -> UrlState | None:
        es = await self.es()
        async with unavailable_as_dependency():
            answer = await es.options(ignore_status=404).get(index=self.index, id=key, realtime=True)
        return answer.get("_source") if answer.get("found") else None

    async def aput(self, key: str, state: UrlState) -> None:
        es = await self.es()
        async with unavailable_as_dependency():
            await es.index(index=self.index, id=key, document=state_document(state, self.schedule))

    async def due(self, now: float, limit: int = 1000) -> list[tuple[str, UrlState]]:
        """The states whose next refetch is due, earliest first (at most `limit` per check)."""
        es = await self.es()
        async with unavailable_as_dependency():
            answer = await es.search(index=self.index, query={"range": {"due_at": {"lte": now}}},
                                     sort=[{"due_at": "asc"}], size=limit)
        return [(hit["_id"], hit["_source"]) for hit in answer["hits"]["hits"]]

    async def sweep(self, now: float) -> int:
        """Delete the states kept longer than the retention after their last fetch."""
        if self.settings.fetch_url_state_retention_s <= 0:
            return 0
        es = await self.es()
        return await sweep_older(es, self.index, "fetched_at", now - self.settings.fetch_url_state_retention_s)

    async def close(self) -> None:
        if self._es is not None:
            await self._es.close()
