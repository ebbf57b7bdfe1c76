"""Benchmark of the index stage's writer against a plain `async_bulk` of the same documents on
the same client, in the same run, on the real Elasticsearch, in throwaway indices (same template).

    .venv/bin/python bench/index_bench.py [--docs 4000] [--batch 200] [--segment 200] [--rounds 3] [--out PATH]

The stage writes as its agent does: one `write_batch` per batch of `--batch` events (an mget of
the batch's stored hashes, then bulk requests bounded by count and bytes) with the project's
client (`es_client`: async, orjson). The baseline sends the same actions through the same
client with the library's `helpers.async_bulk(chunk_size=--batch)`: what the stage adds (the
mget of stored hashes, its own chunking and error handling) is all that differs. The two
alternate every `--segment` documents, each into its own fresh index, so load from elsewhere on
the machine hits both alike; each round gives a ratio (stage / plain docs/s), reported as the
median round's with the range. Also reported: the stage's rate for an identical refetch of
everything (nothing is rewritten).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import async_bulk

from newsflow.core.envelope import make_event, utc_now
from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index
from newsflow.core.logs import configure_logging
from newsflow.core.settings import Settings
from newsflow.index.documents import to_action
from newsflow.index.writer import write_batch
from record import run_started, write_result

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "fixtures" / "seed-article" / "seed.txt"
FALLBACK = ("Mark Zuckerberg holt die besten Talente aus dem Silicon Valley zu Meta. "
            "The company hired dozens of researchers for its superintelligence lab. ") * 40


def events(n: int) -> list[dict]:
    """n distinct articles of news size (the seed article's text, varied per document)."""
    text = SEED.read_text(encoding="utf-8") if SEED.exists() else FALLBACK
    out = []
    for i in range(n):
        article_id = uuid.uuid4().hex
        body = f"{text[i % 500:]}\n\nMeldung {i}."
        payload = {"url": f"https://bench.example/{i}", "final_url": f"https://bench.example/{i}", "site": f"site{i % 20}.example",
                   "title": f"Artikel {i}: Zuckerbergs Talente", "lead": body[:200], "text": body, "language": "de",
                   "published": "2025-06-24T08:00:00Z", "fetched_at": "2025-06-24T10:00:00Z", "parser_version": "bench",
                   "page_type": "article", "authors": ["Redaktion"], "tags": ["KI", "Meta"],
                   "enrichment": {"version": "bench", "language": {"code": "de", "confidence": 0.99},
                                  "entities": {"persons": [{"name": "Mark Zuckerberg", "count": 3, "first_offset": 0}],
                                               "organizations": [{"name": "Meta", "count": 5, "first_offset": 10}]},
                                  "keywords": ["Talente", "KI", f"k{i % 50}"], "topic": {"topic": "technology", "scores": {}}}}
        out.append(make_event("news.enriched/1", article_id, uuid.uuid4().hex, payload, "bench"))
    return out


async def make_alias(settings: Settings) -> None:
    client = es_client(settings)
    try:
        await ensure_index(client, settings)
    finally:
        await client.close()


async def stage_write(client, settings: Settings, docs: list[dict], batch: int) -> tuple[float, dict]:
    """As the agent does: one write_batch per batch of events."""
    totals = {"written": 0, "unchanged": 0, "conflicts": 0, "rejected": 0}
    started = time.perf_counter()
    for i in range(0, len(docs), batch):
        actions = [to_action(e, settings.index_alias, utc_now()) for e in docs[i:i + batch]]
        result = await write_batch(client, actions, chunk_size=batch, max_chunk_bytes=settings.index_batch_bytes,
                                   require_alias=True)
        for key in ("written", "unchanged", "conflicts"):
            totals[key] += getattr(result, key)
        totals["rejected"] += len(result.rejected)
    return time.perf_counter() - started, totals


async def plain_write(client, settings: Settings, docs: list[dict], batch: int) -> tuple[float, int]:
    started = time.perf_counter()
    actions = (to_action(e, settings.index_alias, utc_now()) for e in docs)
    ok, _errors = await async_bulk(client, actions, chunk_size=batch, max_chunk_bytes=settings.index_batch_bytes)
    return time.perf_counter() - started, ok


def cleanup(base: Settings, aliases: list[str]) -> None:
    client = Elasticsearch(base.elasticsearch_url, request_timeout=60)
    try:
        for alias in aliases:
            client.options(ignore_status=404).indices.delete(index=f"{alias}-v*")
            client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{alias}")
    finally:
        client.close()


async def measure(stage: Settings, plain: Settings, docs: list[dict], batch: int, segment: int) -> dict:
    """Both writers over the same documents, segment by segment in alternating order, each with
    its own long-lived client, so that load from elsewhere on this shared machine hits both
    alike; both on one client (the project's: async, orjson). Returns seconds per writer, and the
    stage's time to refetch everything unchanged."""
    seconds = {"stage": 0.0, "plain": 0.0}
    async_client = es_client(stage).options(max_retries=0)
    try:
        for n, i in enumerate(range(0, len(docs), segment)):
            part = docs[i:i + segment]
            for which in (("stage", "plain") if n % 2 == 0 else ("plain", "stage")):
                if which == "stage":
                    took, totals = await stage_write(async_client, stage, part, batch)
                    assert totals["written"] == len(part), totals
                else:
                    took, ok = await plain_write(async_client, plain, part, batch)
                    assert ok == len(part), ok
                seconds[which] += took
        seconds["refetch"], totals = await stage_write(async_client, stage, docs, batch)
        assert totals["unchanged"] == len(docs), totals
    finally:
        await async_client.close()
    return seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=Settings().index_batch_size)
    parser.add_argument("--segment", type=int, default=200, help="documents per alternation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    configure_logging("warning", "bench")
    started = run_started()
    base = Settings()
    run = uuid.uuid4().hex[:8]
    docs = events(args.docs)
    aliases, rounds = [], []

    def fresh(name: str) -> Settings:
        settings = base.replace(index_alias=f"bench{run}-{name}-articles")
        aliases.append(settings.index_alias)
        asyncio.run(make_alias(settings))
        return settings

    try:
        warm = min(len(docs), 2 * args.batch)  # JIT and caches, not reported
        asyncio.run(measure(fresh("warmstage"), fresh("warmplain"), events(warm), args.batch, warm))
        for r in range(args.rounds):
            stage, plain = fresh(f"stage{r}"), fresh(f"plain{r}")
            seconds = asyncio.run(measure(stage, plain, docs, args.batch, args.segment))
            row = {"round": r + 1, "stage_docs_per_s": round(len(docs) / seconds["stage"], 1),
                   "plain_docs_per_s": round(len(docs) / seconds["plain"], 1),
                   "ratio": round(seconds["plain"] / seconds["stage"], 3),
                   "stage_refetch_docs_per_s": round(len(docs) / seconds["refetch"], 1)}
            rounds.append(row)
            print(json.dumps(row), flush=True)
    finally:
        cleanup(base, aliases)

    report = {
        "benchmark": "index", "documents": args.docs, "batch_size": args.batch, "segment": args.segment,
        "bytes_per_document": round(sum(len(json.dumps(to_action(e, "x", utc_now())["_source"])) for e in docs[:100]) / 100),
        "baseline": "elasticsearch.helpers.async_bulk on the same AsyncElasticsearch client (orjson)",
        "stage_docs_per_s": round(sum(r["stage_docs_per_s"] for r in rounds) / len(rounds), 1),
        "plain_async_bulk_docs_per_s": round(sum(r["plain_docs_per_s"] for r in rounds) / len(rounds), 1),
        "ratio": round(statistics.median(r["ratio"] for r in rounds), 3),
        "ratio_range": [min(r["ratio"] for r in rounds), max(r["ratio"] for r in rounds)],
        "stage_docs_per_s_range": [min(r["stage_docs_per_s"] for r in rounds), max(r["stage_docs_per_s"] for r in rounds)],
        "target_ratio": 0.9,
        "stage_refetch_docs_per_s": round(sum(r["stage_refetch_docs_per_s"] for r in rounds) / len(rounds), 1),
        "rounds": rounds, "elasticsearch": base.elasticsearch_url,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}, indent=2))
    if args.out:
        write_result(args.out, report, started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
