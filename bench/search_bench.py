"""Search latency: 1,000 queries through the search API against an index of 10,000 synthetic
articles (the project's own template), beside the same request bodies sent straight to
Elasticsearch in the same run, so the API's overhead shows as a ratio.

Needs the local Elasticsearch (`infra/stack.sh up`). Uses a throwaway alias and removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx

from record import write_result  # noqa: E402  (bench/ is on the path of a script run from it)
from elasticsearch import Elasticsearch, helpers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newsflow.core.es import es_client  # noqa: E402
from newsflow.index.layout import ensure_index, template_name  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.search.query import SearchRequest, search_body  # noqa: E402

WORDS = ("meta openai talent hiring market election football climate vaccine research festival tram river "
         "chip startup funding bank inflation court minister police school university museum concert team "
         "unternehmen talente regierung wahl fussball klima forschung stadt bahn fest markt gericht schule "
         "polizei mannschaft kunst musik wirtschaft energie strom preis euro dollar milliarden millionen").split()
SITES = [f"site{i}.example" for i in range(20)]


def synthetic_docs(n: int, rng: random.Random):
    start = date(2024, 1, 1)
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(150, 400))
        yield {
            "_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "_source": {
                "id": f"{i:032x}", "url": f"https://{rng.choice(SITES)}/a/{i}", "site": rng.choice(SITES),
                "title": " ".join(rng.choices(WORDS, k=8)).capitalize(), "lead": " ".join(rng.choices(WORDS, k=25)),
                "text": " ".join(words), "language": rng.choice(["de", "en"]),
                "published": (start + timedelta(days=rng.randint(0, 700))).isoformat(),
                "page_type": "article", "fetched_at": "2025-01-01T00:00:00Z",
            },
        }


def queries(n: int, rng: random.Random) -> list[dict]:
    out = []
    for _ in range(n):
        q = " ".join(rng.choices(WORDS, k=rng.randint(1, 3)))
        params = {"q": q}
        if rng.random() < 0.3:
            params["language"] = rng.choice(["de", "en"])
        if rng.random() < 0.2:
            params["sort"] = "date"
        out.append(params)
    return out


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": round(pick(50), 2), "p95_ms": round(pick(95), 2), "p99_ms": round(pick(99), 2),
            "mean_ms": round(statistics.mean(ordered) * 1000, 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(42)
    alias = f"bench{uuid.uuid4().hex[:6]}-articles"
    settings = Settings(index_alias=alias)
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=120)

    async def prepare():
        client = es_client(settings)
        try:
            return await ensure_index(client, settings)
        finally:
            await client.close()

    index = asyncio.run(prepare())
    started = time.perf_counter()
    helpers.bulk(es, synthetic_docs(args.docs, rng), index=index, chunk_size=1000)
    es.indices.refresh(index=index)
    load_s = time.perf_counter() - started
    port = 18000 + rng.randint(0, 999)
    env = {**os.environ, "NEWSFLOW_INDEX_ALIAS": alias, "NEWSFLOW_SEARCH_PORT": str(port), "NEWSFLOW_LOG_LEVEL": "warning"}
    api = subprocess.Popen([str(REPO / ".venv" / "bin" / "newsflow"), "serve", "search"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        workload = queries(args.queries, rng)
        with httpx.Client(timeout=10) as client:
            for params in workload[:50]:  # warm both paths alike
                client.get(f"{base}/search", params=params)
            api_times, direct_times = [], []
            for params in workload:
                t = time.perf_counter()
                response = client.get(f"{base}/search", params=params)
                api_times.append(time.perf_counter() - t)
                assert response.status_code == 200, response.text
                body = search_body(SearchRequest(q=params["q"], language=[params["language"]] if "language" in params else [],
                                                 sort=params.get("sort", "relevance")))
                t = time.perf_counter()
                es.search(index=alias, **body)
                direct_times.append(time.perf_counter() - t)
    finally:
        api.terminate()
        api.wait(10)
        es.indices.delete(index=index)
        es.indices.delete_index_template(name=template_name(settings))
    result = {
        "documents": args.docs, "queries": args.queries, "load_seconds": round(load_s, 1),
        "search_api": percentiles(api_times), "elasticsearch_direct": percentiles(direct_times),
        "api_over_direct_p50": round(percentiles(api_times)["p50_ms"] / percentiles(direct_times)["p50_ms"], 2),
    }
    print(f"search latency over {args.queries} queries, {args.docs} documents")
    print(f"  {'':22} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in ("search_api", "elasticsearch_direct"):
        r = result[name]
        print(f"  {name:22} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8}")
    print(f"  API p50 / direct p50: {result['api_over_direct_p50']}x")
    if args.out:
        write_result(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
