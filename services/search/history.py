"""The dashboard's events/s history, kept where a restarted search API finds it again: every
scrape of a stage's counters is also a document of a small Elasticsearch index beside the
articles, `<alias>-dashboard-samples` (one shard; a document per scrape and stage instance:
the time, the stage, the metrics URL and its in/out/dead counter totals). A search API that
starts reads back the last NEWSFLOW_DASHBOARD_HISTORY seconds before its first scrape, so the
sparklines go on where they were; samples older than that are deleted once a minute. Several
search APIs scraping the same stages write the same kind of samples: counter totals from any of
them, in time order, give the same rates.

Elasticsearch being away never breaks the dashboard: the history is then kept in memory only
and the reason shown in `history.error` of /stats/pipeline."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch, NotFoundError

from ..core.settings import Settings
from ..core.state_index import sweep_older

KINDS = ("in", "out", "dead")
MAPPINGS = {"dynamic": "strict", "properties": {
    "t": {"type": "double"}, "stage": {"type": "keyword"}, "url": {"type": "keyword"},
    **{kind: {"type": "double"} for kind in KINDS}}}
PAGE = 5000


def samples_index(settings: Settings) -> str:
    return f"{settings.index_alias}-dashboard-samples"


def sample_doc(t: float, stage: str, url: str, totals: dict[str, float]) -> dict:
    return {"t": t, "stage": stage, "url": url, **{kind: float(totals.get(kind, 0.0)) for kind in KINDS}}


def sample_of(doc: dict) -> tuple[float, str, str, dict[str, float]]:
    """(t, stage, url, totals) of a stored sample."""
    return doc["t"], doc["stage"], doc["url"], {kind: doc.get(kind, 0.0) for kind in KINDS}


class SampleStore:
    def __init__(self, es: AsyncElasticsearch, settings: Settings):
        self.es, self.index = es, samples_index(settings)
        self.settings = settings
        self._ready = False

    async def _ensure(self) -> None:
        if self._ready:
            return
        if not await self.es.indices.exists(index=self.index):
            try:
                await self.es.indices.create(index=self.index, mappings=MAPPINGS, settings={
                    "number_of_shards": 1, "number_of_replicas": self.settings.es_replicas})
            except Exception as exc:  # noqa: BLE001 - another search API created it first
                if "resource_already_exists_exception" not in str(exc):
                    raise
        self._ready = True

    async def add(self, samples: list[tuple[float, str, str, dict[str, float]]]) -> None:
        """Store one scrape's samples (one per stage instance that answered)."""
        if not samples:
            return
        await self._ensure()
        operations = []
        for t, stage, url, totals in samples:
            operations += [{"index": {"_index": self.index, "_id": f"{url}@{t:.3f}"}}, sample_doc(t, stage, url, totals)]
        response = await self.es.bulk(operations=operations)
        if response.get("errors"):
            first = next(item["index"]["error"] for item in response["items"] if "error" in item["index"])
            raise RuntimeError(f"{self.index}: {first.get('type')}: {first.get('reason')}")

    async def load(self, since: float) -> list[tuple[float, str, str, dict[str, float]]]:
        """Every sample from `since` on, oldest first (none when the index is not there yet)."""
        found, after = [], None
        while True:
            try:
                page = await self.es.search(index=self.index, size=PAGE, sort=[{"t": "asc"}, {"url": "asc"}],
                                            query={"range": {"t": {"gte": since}}}, search_after=after)
            except NotFoundError:
                return []
            hits = page["hits"]["hits"]
            found += [sample_of(hit["_source"]) for hit in hits]
            if len(hits) < PAGE:
                return found
            after = hits[-1]["sort"]

    async def prune(self, before: float) -> int:
        """Delete the samples older than `before`; returns how many."""
        return await sweep_older(self.es, self.index, "t", before)
