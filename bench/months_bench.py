"""What month partitioning costs the index stage, and what a month index holds.

    .venv/bin/python bench/months_bench.py [--docs 2000] [--months 24] [--history 2400] [--rounds 3] [--out PATH]

Like with like, in the same run: the index stage's writer (`write_batch`, as its agent calls
it) writes the same new articles into two aliases that already hold the same `--history`
articles spread over `--months` months: one with the unpartitioned layout (`<alias>-v1`), one
partitioned by month (`<alias>-v1-YYYY.MM`, where every batch's ids are looked up in every
month index with one realtime mget). The two alternate every `--segment` documents, the order
flipping each time, so load from elsewhere on the machine hits both alike; `ratio` is month /
none docs/s, reported per round with the median and the spread.

Then the month indices are force-merged to one segment and their primary store divided by
their documents: bytes per article on disk (text, facets, keyword fields and the 384-float
embedding with its HNSW graph), from which a month at a million articles a day is sized.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import sys
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

from elasticsearch import Elasticsearch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_bench import events as base_events, stage_write  # noqa: E402

from newsflow.core.es import es_client  # noqa: E402
from newsflow.index.layout import ensure_index, template_name  # noqa: E402
from newsflow.core.logs import configure_logging  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402

ARTICLES_PER_DAY = 1_000_000
SHARD_TARGET_GB = 30      # Elastic's guidance: 10-50 GB per shard (and under 200M documents)


def events(n: int, months: int, seed: int) -> list[dict]:
    """n articles published over the last `months` months, each with a 384-float embedding."""
    rng = random.Random(seed)
    out = base_events(n)
    for e in out:
        back = rng.randrange(months)
        year, month = divmod(2025 * 12 + 5 - back, 12)
        e["payload"]["published"] = date(year, month + 1, rng.randint(1, 28)).isoformat()
        vector = [rng.gauss(0, 1) for _ in range(384)]
        norm = math.sqrt(sum(v * v for v in vector))
        e["payload"]["enrichment"]["embedding"] = [round(v / norm, 6) for v in vector]
    return out


async def prepare(settings: Settings, history: list[dict], batch: int) -> None:
    async with es_client(settings) as client:
        await ensure_index(client, settings)
        await stage_write(client, settings, history, batch)


async def measure(layouts: dict[str, Settings], docs: list[dict], batch: int, segment: int) -> dict[str, float]:
    seconds = {name: 0.0 for name in layouts}
    clients = {name: es_client(s).options(max_retries=0) for name, s in layouts.items()}
    try:
        for n, i in enumerate(range(0, len(docs), segment)):
            order = list(layouts) if n % 2 == 0 else list(reversed(layouts))
            for name in order:
                took, totals = await stage_write(clients[name], layouts[name], docs[i:i + segment], batch)
                assert totals["written"] == len(docs[i:i + segment]), totals
                seconds[name] += took
    finally:
        for client in clients.values():
            await client.close()
    return seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--history", type=int, default=2400, help="articles already indexed before the measurement")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--batch", type=int, default=Settings().index_batch_size)
    parser.add_argument("--segment", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    configure_logging("warning", "bench")
    base = Settings()
    run = uuid.uuid4().hex[:8]
    sync = Elasticsearch(base.elasticsearch_url, request_timeout=120)
    made: list[Settings] = []
    rounds = []
    store = {}
    try:
        for r in range(args.rounds):
            history, docs = events(args.history, args.months, r), events(args.docs, args.months, 100 + r)
            layouts = {}
            for layout in ("none", "month"):
                s = base.replace(index_alias=f"bench{run}-{layout}{r}-articles", index_partitioning=layout)
                made.append(s)
                asyncio.run(prepare(s, history, args.batch))
                layouts[layout] = s
            seconds = asyncio.run(measure(layouts, docs, args.batch, args.segment))
            row = {"round": r + 1, "none_docs_per_s": round(args.docs / seconds["none"], 1),
                   "month_docs_per_s": round(args.docs / seconds["month"], 1),
                   "ratio": round(seconds["none"] / seconds["month"], 3)}
            rounds.append(row)
            print(json.dumps(row), flush=True)
        # bytes on disk per article, from the last round's month indices merged to one segment
        pattern = f"{layouts['month'].index_alias}-v*"
        sync.indices.forcemerge(index=pattern, max_num_segments=1, wait_for_completion=True)
        sync.indices.refresh(index=pattern)
        stats = sync.indices.stats(index=pattern, metric="docs,store").body["_all"]["primaries"]
        per_doc = stats["store"]["size_in_bytes"] / stats["docs"]["count"]
        month_docs = ARTICLES_PER_DAY * 31
        month_gb = per_doc * month_docs / 1e9
        source = statistics.mean(len(json.dumps(e["payload"])) for e in docs[:200])
        store = {"documents": stats["docs"]["count"], "json_bytes_per_article_sent": round(source), "primary_store_bytes": stats["store"]["size_in_bytes"],
                 "bytes_per_article": round(per_doc), "articles_per_month_at_1m_a_day": month_docs,
                 "month_primary_gb": round(month_gb, 1), "shard_target_gb": SHARD_TARGET_GB,
                 "primary_shards_per_month": max(1, math.ceil(month_gb / SHARD_TARGET_GB))}
    finally:
        for s in made:
            sync.options(ignore_status=404).indices.delete(index=f"{s.index_alias}-v*")
            sync.options(ignore_status=404).indices.delete_index_template(name=template_name(s))
        sync.close()

    ratios = [r["ratio"] for r in rounds]
    report = {
        "benchmark": "months", "command": "bench/months_bench.py " + " ".join(argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "documents": args.docs, "history": args.history, "months": args.months, "batch_size": args.batch,
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "none_docs_per_s_median": statistics.median(r["none_docs_per_s"] for r in rounds),
        "month_docs_per_s_median": statistics.median(r["month_docs_per_s"] for r in rounds),
        "store": store, "rounds": rounds, "elasticsearch": base.elasticsearch_url,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
