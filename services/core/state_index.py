"""Bounded stage state kept in Elasticsearch: small indices beside the articles' alias
(`<alias>-state-<name>`), one per kind of state, read by id (realtime GET: a write is seen by
the next read at once) or by an indexed field, and swept by age.

Why not faust tables: a table lives in each worker's memory (or its RocksDB) and is read back
from its changelog at every start, so memory and start-up time grow with all of history; here
a worker holds nothing, starts in constant time, any worker can take over a partition at
once, and retention is a range delete. The stages own what they keep (services/fetch/url_state.py,
services/enrich/cluster_state.py); this module only knows indices, errors and sweeps."""

from __future__ import annotations

from contextlib import asynccontextmanager

from elasticsearch import ApiError, AsyncElasticsearch, ConnectionError as EsConnectionError, ConnectionTimeout

from .es import es_client
from .logs import get_logger
from .outage import DependencyUnavailable
from .settings import Settings

log = get_logger("newsflow.state")
# Statuses that mean "not now" rather than "wrong request".
_BUSY = {429, 502, 503, 504}
# A stage's state request that takes longer than this counts as Elasticsearch unavailable.
STATE_REQUEST_TIMEOUT_S = 8.0
# State is read by id (realtime) or by an owner that keeps what it wrote since its own last
# refresh (cluster_state.py), so Elasticsearch's periodic refresh serves no reader here. At 1 s
# it cost the clustering state ~2 refreshes a second under a backlog (5.2 s of refresh time per
# 1,000 articles, a fifth of Elasticsearch's CPU; README, "Where the services' time goes").
STATE_REFRESH_INTERVAL = "30s"


def state_index(settings: Settings, name: str) -> str:
    """The index of one kind of state, named after the alias so test runs stay apart."""
    return f"{settings.index_alias}-state-{name}"


class StateIndex:
    """One kind of stage state in its index: the client is made on first use (in the running
    loop), the index with its mapping on first request."""

    def __init__(self, settings: Settings, name: str, properties: dict, es: AsyncElasticsearch | None = None):
        self.settings, self._es, self.properties = settings, es, properties
        self.index = state_index(settings, name)
        self._ready = False

    async def es(self) -> AsyncElasticsearch:
        if self._es is None:
            # Fail fast (the shell's outage policy waits and tries again) rather than retry
            # inside the stage's time limit, which would dead-letter the input instead.
            self._es = es_client(self.settings).options(request_timeout=STATE_REQUEST_TIMEOUT_S, max_retries=0,
                                                        retry_on_timeout=False)
        if not self._ready:
            await ensure_state_index(self._es, self.settings, self.index, self.properties)
            self._ready = True
        return self._es


@asynccontextmanager
async def unavailable_as_dependency():
    """Elasticsearch unreachable or overloaded -> DependencyUnavailable (the shell waits and
    retries the same input); any other error is the caller's."""
    try:
        yield
    except (EsConnectionError, ConnectionTimeout) as exc:
        raise DependencyUnavailable("elasticsearch", f"{type(exc).__name__}: {exc}") from exc
    except ApiError as exc:
        if exc.meta.status in _BUSY:
            raise DependencyUnavailable("elasticsearch", f"status {exc.meta.status}: {exc}") from exc
        raise


async def ensure_state_index(es: AsyncElasticsearch, settings: Settings, index: str, properties: dict) -> None:
    """Create the index with its mapping unless it exists (only the fields looked up are indexed;
    the rest is kept in _source). One shard: state is small per document and read by id."""
    async with unavailable_as_dependency():
        if await es.indices.exists(index=index):
            # indices made with the old 1 s interval take the new one
            await es.indices.put_settings(index=index, settings={"refresh_interval": STATE_REFRESH_INTERVAL})
            return
        await es.options(ignore_status=400).indices.create(
            index=index,
            settings={"number_of_shards": 1, "number_of_replicas": settings.es_replicas,
                      # explicit: a search-idle shard would otherwise skip it
                      "refresh_interval": STATE_REFRESH_INTERVAL},
            mappings={"dynamic": False, "properties": properties},
        )


async def sweep_older(es: AsyncElasticsearch, index: str, field: str, before: float, page: int = 5000) -> int:
    """Delete the documents whose `field` (epoch seconds) is older than `before`; how many.
    (Search and bulk delete, page by page: the integ-test distribution of Elasticsearch the
    project runs on has no delete-by-query, which lives in its reindex module.)"""
    deleted = 0
    es = es.options(request_timeout=300)
    async with unavailable_as_dependency():
        await es.options(ignore_status=404).indices.refresh(index=index)
        while True:
            answer = await es.options(ignore_status=404).search(
                index=index, query={"range": {field: {"lt": before}}}, source=False, size=page, sort=["_doc"])
            ids = [hit["_id"] for hit in (answer.get("hits") or {}).get("hits", [])]
            if not ids:
                break
            result = await es.bulk(operations=[{"delete": {"_index": index, "_id": i}} for i in ids], refresh=True)
            deleted += sum(1 for item in result["items"] if item["delete"].get("result") == "deleted")
            if len(ids) < page:
                break
    log.info("state swept", index=index, field=field, before=before, deleted=deleted)
    return deleted
