"""Where the clustering agent keeps its near-duplicate claims (clusters.py): an Elasticsearch
index beside the alias (`<alias>-state-clusters`, see core/state_index.py), one document per
claim, its keys (`a:<article id>`, `b<band>:<hash>`) a keyword field.

The agent settles a batch of articles at a time: one multi-search finds, for each, the earlier
claims on its lookup keys within the look-back window (a terms query and a range on `at`);
clusters.decide() settles them in order, each seeing the claims of those before it in the batch;
one bulk request indexes their new claims. A search sees what Elasticsearch has refreshed, so the claims written since the last
refresh this agent made are kept here and added to every answer (`pending`), until a refresh
makes them visible (at most once per REFRESH_AFTER_S, and before the first search, which also
covers claims of a previous owner of the clustering partition). One agent owns the
single-partition clustering topic at a time and settles in order, so decisions are the same
as with one in-memory table, but nothing grows in the worker and a start recovers nothing."""

from __future__ import annotations

import time

from elasticsearch import AsyncElasticsearch

from ..core.outage import DependencyUnavailable
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
# How long the agent's own claims may wait for a refresh, kept in `pending` meanwhile (each
# article's lookup scans them: ~10 s of claims is a few hundred). Every refresh makes a segment
# Elasticsearch later merges: at 1 s they were a fifth of its CPU under a backlog.
REFRESH_AFTER_S = 10.0


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

    def _query(self, keys: list[str], at: float) -> dict:
        query: dict = {"bool": {"filter": [{"terms": {"claims": keys}}]}}
        if self.window_s > 0:
            query["bool"]["filter"].append({"range": {"at": {"gte": at - self.window_s}}})
        return {"query": query, "sort": [{"seq": "asc"}], "size": MAX_CANDIDATES}

    async def _searched(self, lookups: list[tuple[list[str], float]]) -> list[dict[str, dict]]:
        """For each (keys, at): the refreshed claims on the keys within the window, by doc id."""
        es = await self.es()
        await self._refresh_if_due(es)
        searches = []
        for keys, at in lookups:
            searches += [{"index": self.index}, self._query(keys, at)]
        async with unavailable_as_dependency():
            answer = await es.msearch(searches=searches)
        found = []
        for response in answer["responses"]:
            if "error" in response:  # one search refused (e.g. a shard busy): the batch is tried again
                raise DependencyUnavailable("elasticsearch", f"search refused: {str(response['error'])[:300]}")
            found.append({hit["_id"]: hit["_source"] for hit in response["hits"]["hits"]})
        return found

    def _with_pending(self, found: dict[str, dict], keys: list[str], at: float) -> list[dict]:
        wanted = set(keys)
        for claim in self.pending:
            if wanted.intersection(claim["claims"]) and in_window(claim, at, self.window_s):
                found.setdefault(_doc_id(claim), claim)
        return list(found.values())

    async def candidates(self, keys: list[str], at: float) -> list[dict]:
        """The claims on `keys` made within the window before `at` (or after it)."""
        return self._with_pending((await self._searched([(keys, at)]))[0], keys, at)

    async def settle_all(self, events: list[dict]) -> list[dict | Exception]:
        """Each enriched event with its cluster settled, in order; an event that cannot be settled
        (malformed for clustering) gets its exception instead. The batch's claims are indexed
        before this returns, so no output can be sent before its claim is recorded. If anything
        fails, the batch leaves no trace here and can be tried again as a whole."""
        lookups = []
        for event in events:
            try:
                lookups.append((lookup_keys(event), article_time(event)))
            except Exception:  # noqa: BLE001 - settled (as its exception) below
                lookups.append(([], 0.0))
        found = iter(await self._searched([(keys, at) for keys, at in lookups if keys]))
        pending_before, since_before = list(self.pending), self._pending_since
        results: list[dict | Exception] = []
        claims = []
        try:
            for event, (keys, at) in zip(events, lookups):
                try:
                    hits = next(found) if keys else {}
                    # seq: the settling order. Wall-clock nanoseconds, so a worker that takes the
                    # partition over continues the order (clocks of different hosts must agree to
                    # well under the seconds a rebalance takes).
                    settled, claim = decide(event, self._with_pending(hits, keys, at), self.window_s, time.time_ns())
                except Exception as exc:  # noqa: BLE001 - this event's own fault: its dead letter
                    results.append(exc)
                    continue
                if claim:
                    if not self.pending:
                        self._pending_since = time.monotonic()
                    self.pending.append(claim)
                    claims.append(claim)
                results.append(settled)
            if claims:
                await self._index_claims(claims)
        except BaseException:
            self.pending, self._pending_since = pending_before, since_before
            raise
        return results

    async def settle(self, enriched: dict) -> dict:
        result = (await self.settle_all([enriched]))[0]
        if isinstance(result, Exception):
            raise result
        return result

    async def _index_claims(self, claims: list[dict]) -> None:
        es = await self.es()
        operations = []
        for claim in claims:
            operations += [{"index": {"_index": self.index, "_id": _doc_id(claim)}}, claim]
        async with unavailable_as_dependency():
            answer = await es.bulk(operations=operations)
        if answer.get("errors"):
            failed = [item["index"] for item in answer["items"] if item["index"].get("error")]
            raise DependencyUnavailable("elasticsearch", f"{len(failed)} claims not indexed: {str(failed[0])[:300]}")

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
