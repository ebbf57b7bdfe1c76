"""Where the clustering agent keeps its near-duplicate claims (clusters.py): an Elasticsearch
index beside the alias (`<alias>-state-clusters`, see core/state_index.py), one document per
claim, its keys (`a:<article id>`, `b<band>:<hash>`) a keyword field.

For each article one search finds the earlier claims on its lookup keys within the look-back
window (a terms query and a range on `at`); clusters.decide() settles it; its new claim is
indexed. A search sees what Elasticsearch has refreshed, so the claims written since the last
refresh this agent made are kept here and added to every answer (`pending`), until a refresh
makes them visible (at most about once a second, and before the first search, which also
covers claims of a previous owner of the clustering partition). One agent owns the
single-partition clustering topic at a time and settles in order, so decisions are the same
as with one in-memory table, but nothing grows in the worker and a start recovers nothing."""

from __future__ import annotations

import time

from elasticsearch import AsyncElasticsearch

from ..core.settings import Settings
from ..core.state_index import StateIndex, sweep_older, unavailable_as_dependency
from .clusters import article_time, decide, in_window, lookup_keys

PROPERTIES = {
    "claims": {"type": "keyword"},
    "at": {"type": "double"},        # the claiming article's fetch time: window and retention
    "seq": {"type": "long"},         # the order the agent settled the articles in
    "article": {"type": "keyword"},
    "cluster": {"type": "keyword", "index": False},
}
# A story syndicated widely has many claims on its keys; only the earliest per key matter.
MAX_CANDIDATES = 2000
REFRESH_AFTER_S = 1.0


class EsClusters(StateIndex):
    def __init__(self, settings: Settings, es: AsyncElasticsearch | None = None, clock=time.time):
        super().__init__(settings, "clusters", PROPERTIES, es)
        self.clock = clock
        self.window_s = settings.near_duplicate_window_s
        self.pending: list[dict] = []   # claims indexed since this agent's last refresh
        self._pending_since = 0.0
        self._refreshed = False         # none yet by this process: refresh before the first search

    async def _refresh_if_due(self, es: AsyncElasticsearch) -> None:
        if self._refreshed and not (self.pending and time.monotonic() - self._pending_since >= REFRESH_AFTER_S):
            return
        async with unavailable_as_dependency():
            await es.indices.refresh(index=self.index)
        self.pending.clear()
        self._refreshed = True

    async def candidates(self, keys: list[str], at: float) -> list[dict]:
        """The claims on `keys` made within the window before `at` (or after it)."""
        es = await self.es()
        await self._refresh_if_due(es)
        query: dict = {"bool": {"filter": [{"terms": {"claims": keys}}]}}
        if self.window_s > 0:
            query["bool"]["filter"].append({"range": {"at": {"gte": at - self.window_s}}})
        async with unavailable_as_dependency():
            answer = await es.search(index=self.index, query=query, sort=[{"seq": "asc"}], size=MAX_CANDIDATES)
        found = {hit["_id"]: hit["_source"] for hit in answer["hits"]["hits"]}
        wanted = set(keys)
        for claim in self.pending:
            if wanted.intersection(claim["claims"]) and in_window(claim, at, self.window_s):
                found.setdefault(_doc_id(claim), claim)
        return list(found.values())

    async def settle(self, enriched: dict) -> dict:
        # seq: the settling order. Wall-clock nanoseconds, so a worker that takes the partition
        # over continues the order (clocks of different hosts must agree to well under the
        # seconds a rebalance takes).
        settled, claim = decide(enriched, await self.candidates(lookup_keys(enriched), article_time(enriched)),
                                self.window_s, time.time_ns())
        if claim:
            es = await self.es()
            async with unavailable_as_dependency():
                await es.index(index=self.index, id=_doc_id(claim), document=claim)
            if not self.pending:
                self._pending_since = time.monotonic()
            self.pending.append(claim)
        return settled

    async def sweep(self, now: float) -> int:
        """Delete the claims of articles fetched longer than the window ago."""
        if self.window_s <= 0:
            return 0
        es = await self.es()
        before = now - self.window_s
        deleted = await sweep_older(es, self.index, "at", before)
        self.pending = [claim for claim in self.pending if claim["at"] >= before]
        return deleted

    async def close(self) -> None:
        if self._es is not None:
            await self._es.close()


def _doc_id(claim: dict) -> str:
    return f"{claim['article']}-{claim['seq']}"
