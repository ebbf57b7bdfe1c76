"""End-to-end benchmark: a generated site of --pages article pages through the running services
(fetch -> parse -> enrich -> index over Kafka), beside a single-process baseline in the same run
that calls the same functions with no Kafka (the fetch stage's handler, parse(), enrich(),
to_action() and write_batch()).

    .venv/bin/python bench/e2e_bench.py [--pages 2000] [--parse-instances 1] [--out bench/results/e2e.json]

Needs the shared Kafka, Elasticsearch and CoreNLP (`make up`); the services run as subprocesses
under their own topic prefix and index alias, removed at the end. Latency is fetch-to-searchable:
from the site seeing the page's request to the document appearing in a search of the alias
(one poller measures both runs alike). Also: time per stage (the services' own
newsflow_process_seconds histograms), RSS per service sampled every 0.5 s. Writes JSON and an
SVG plot beside it (bench/results/e2e.svg).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test site and service harness live under tests/

RUN = uuid.uuid4().hex[:8]
# Politeness lifted for our own local site, the same for both runs.
os.environ.update({"NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8", "NEWSFLOW_FETCH_HOST_DELAY": "0",
                   "NEWSFLOW_FETCH_HOST_CONCURRENCY": "8", "NEWSFLOW_INDEX_BATCH_SECONDS": "0.3",
                   "NEWSFLOW_LOG_LEVEL": "warning"})

import httpx  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402

from bench.e2e_plot import write_svg  # noqa: E402
from newsflow.stages import WEB_PORT_OFFSETS  # noqa: E402
from newsflow.core.envelope import make_event, utc_now, encode  # noqa: E402
from newsflow.core.es import es_client  # noqa: E402
from newsflow.index.layout import ensure_index  # noqa: E402
from newsflow.core.ids import article_id, new_trace_id  # noqa: E402
from newsflow.core.kafka import producer  # noqa: E402
from newsflow.core.logs import configure_logging  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.core.topics import ensure_topics  # noqa: E402
from newsflow.enrich.stage import enrich  # noqa: E402
from newsflow.fetch.client import Fetcher  # noqa: E402
from newsflow.fetch.fetcher import make_handler  # noqa: E402
from newsflow.index.documents import to_action  # noqa: E402
from newsflow.index.writer import write_batch  # noqa: E402
from newsflow.parse.stage import parse  # noqa: E402
from tests.articlesite import ArticleSite  # noqa: E402
from tests.integration.helpers import read_topic  # noqa: E402
from tests.integration.conftest import STAGES, ServiceProcess, Services, free_port, wait_until  # noqa: E402


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(values), 3)}


class Visibility:
    """Polls the alias and notes when each id first shows up in a search (= searchable)."""

    def __init__(self, settings: Settings, ids: set[str]):
        self.settings, self.ids, self.seen = settings, ids, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client = Elasticsearch(self.settings.elasticsearch_url, request_timeout=30)
        while not self._stop.is_set() and len(self.seen) < len(self.ids):
            found = client.options(ignore_status=(404, 503)).search(
                index=self.settings.index_alias, query={"match_all": {}}, source=False, size=10_000)
            now = time.monotonic()
            for hit in found.get("hits", {}).get("hits", []):
                self.seen.setdefault(hit["_id"], now)
            time.sleep(0.25)
        client.close()

    def __enter__(self):
        self._thread.start()
        return self

    def wait(self, timeout_s: float, dead=lambda: set()) -> set[str]:
        """Until every id is searchable or dead-lettered (a page the pipeline rejects must not
        hang the benchmark); returns the dead-lettered ids."""
        state = {"dead": set(), "checked": 0.0}

        def done() -> bool:
            if len(self.seen) >= len(self.ids):
                return True
            if time.monotonic() - state["checked"] > 10:  # reading the DLQ is slow: now and then
                state["dead"], state["checked"] = dead() & self.ids, time.monotonic()
            return len(set(self.seen) | state["dead"]) >= len(self.ids)

        wait_until(done, timeout_s, f"{len(self.ids)} documents searchable", interval=1)
        return state["dead"]

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


class RssSampler:
    """Resident memory of each service process, from /proc, every 0.5 s."""

    def __init__(self, services: Services):
        self.services, self.samples = services, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for name, proc in list(self.services.procs.items()):
                try:
                    status = Path(f"/proc/{proc.proc.pid}/status").read_text()
                except OSError:
                    continue
                kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
                self.samples.setdefault(name, []).append(kb / 1024)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def summary(self) -> dict:
        return {name: {"max_mb": round(max(v), 1), "mean_mb": round(statistics.fmean(v), 1)} for name, v in self.samples.items()}


def request_event(url: str) -> dict:
    return make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                      {"url": url, "source": "bench", "requested_at": utc_now()}, "bench")


async def baseline(settings: Settings, urls: list[str]) -> dict:
    """Everything in one process: pages fetched concurrently (the fetch stage's handler and
    limits), parse + enrich one at a time in one worker thread (as a stage runs them), bulk
    writes of up to 200 documents with the index stage's writer."""
    es = es_client(settings)
    index = await ensure_index(es, settings)
    fetch = make_handler(settings, {}, Fetcher(settings))
    worker = ThreadPoolExecutor(max_workers=1)
    pending: list[dict] = []
    seconds = {"fetch": 0.0, "parse": 0.0, "enrich": 0.0, "index": 0.0}
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def parse_enrich(raw: dict) -> dict:
        t0 = time.perf_counter()
        parsed = parse(raw)
        t1 = time.perf_counter()
        enriched = enrich(parsed)
        seconds["parse"] += t1 - t0
        seconds["enrich"] += time.perf_counter() - t1
        return enriched

    async def one(url: str) -> None:
        t0 = time.perf_counter()
        raw = await fetch(request_event(url))
        seconds["fetch"] += time.perf_counter() - t0
        enriched = await loop.run_in_executor(worker, parse_enrich, raw)
        pending.append(to_action(enriched, index, utc_now()))

    async def writer() -> None:
        while not (done.is_set() and not pending):
            await asyncio.sleep(0.3)
            batch, pending[:] = pending[:200], pending[200:]
            if batch:
                t0 = time.perf_counter()
                await write_batch(es, batch)
                seconds["index"] += time.perf_counter() - t0

    write_task = asyncio.create_task(writer())
    slots = asyncio.Semaphore(settings.fetch_concurrency)

    async def bounded(url: str) -> None:
        async with slots:
            await one(url)

    await asyncio.gather(*(bounded(u) for u in urls))
    done.set()
    await write_task
    await es.close()
    worker.shutdown()
    return {k: round(v, 2) for k, v in seconds.items()}


def stage_seconds(settings: Settings) -> dict:
    """Sum and count of newsflow_process_seconds per stage, from each service's /metrics."""
    out = {}
    for stage in STAGES:
        text = httpx.get(f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("newsflow_process_seconds_sum") or line.startswith("newsflow_process_seconds_count"):
                name, value = line.rsplit(" ", 1)
                label = name.split('stage="', 1)[1].split('"', 1)[0]
                kind = "seconds" if "_sum" in name else "events"
                out.setdefault(label, {})[kind] = round(float(value), 2)
    for v in out.values():
        if v.get("events"):
            v["ms_per_event"] = round(1000 * v["seconds"] / v["events"], 2)
    return out


async def submit(settings: Settings, urls: list[str]) -> None:
    async with producer(settings) as send:
        for url in urls:
            event = request_event(url)
            await send(settings.topic("news.fetch.requests"), event["id"].encode(), encode(event, "news.fetch.request/1"))


def run_services(settings: Settings, env: dict, urls: list[str], site: ArticleSite, parse_instances: int) -> dict:
    asyncio.run(ensure_topics(settings))
    services = Services(env, REPO / ".var" / "logs" / f"bench-e2e-{RUN}")
    try:
        for stage in STAGES:
            services.start(stage)
        for i in range(1, parse_instances):  # extra parse workers in the same group, on their own web ports
            start_extra(services, "parse", i)
        wait_until(lambda: all(_healthy(settings, s) for s in STAGES), 120, "services healthy")
        ids = {article_id(u) for u in urls}
        with RssSampler(services) as rss, Visibility(settings, ids) as seen:
            started = time.monotonic()
            asyncio.run(submit(settings, urls))
            dead = seen.wait(3600, lambda: {e.get("id") for e in read_topic(settings, "news.dlq", timeout_s=1.0)})
        elapsed = max(seen.seen.values()) - started
        latencies = [seen.seen[article_id(u)] - site.first_hit(u) for u in urls if article_id(u) in seen.seen]
        return {"seconds": round(elapsed, 2), "articles_per_s": round(len(seen.seen) / elapsed, 2),
                "searchable": len(seen.seen), "dead_lettered": sorted(dead),
                "latency_s": percentiles(latencies), "stage_time": stage_seconds(settings), "rss": rss.summary(),
                "parse_instances": parse_instances}
    finally:
        services.stop_all()


def start_extra(services: Services, name: str, i: int) -> None:
    """Instance i (>= 1) of a stage beside the first: same consumer group, its own web port
    and faust data directory, as a second machine would have."""
    env = {**services.env, "NEWSFLOW_WEB_PORT_BASE": str(int(services.env["NEWSFLOW_WEB_PORT_BASE"]) + 100 * i),
           "NEWSFLOW_VAR": str(REPO / ".var" / f"bench-{RUN}-{name}{i}")}
    proc = ServiceProcess(name, env, services.log_dir / f"{name}-{i}.log")
    proc.start()
    services.procs[f"{name}-{i}"] = proc


def _healthy(settings: Settings, stage: str) -> bool:
    try:
        url = f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/health"
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def run_baseline(settings: Settings, urls: list[str], site: ArticleSite) -> dict:
    ids = {article_id(u) for u in urls}
    with Visibility(settings, ids) as seen:
        started = time.monotonic()
        spent = asyncio.run(baseline(settings, urls))
        seen.wait(600)
    elapsed = max(seen.seen.values()) - started
    latencies = [seen.seen[article_id(u)] - site.first_hit(u) for u in urls]
    return {"seconds": round(elapsed, 2), "articles_per_s": round(len(urls) / elapsed, 2),
            "latency_s": percentiles(latencies), "stage_time_s": spent}


def cleanup(settings: Settings) -> None:
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
    client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
    client.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--parse-instances", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "e2e.json")
    args = parser.parse_args(argv)
    configure_logging("warning", "bench")

    web_base = free_port() + 10
    env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": f"bench{RUN}.", "NEWSFLOW_INDEX_ALIAS": f"bench{RUN}-articles",
           "NEWSFLOW_WEB_PORT_BASE": str(web_base)}
    svc_settings = Settings().replace(topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"], index_alias=env["NEWSFLOW_INDEX_ALIAS"],
                                      web_port_base=web_base)
    base_settings = Settings().replace(index_alias=f"bench{RUN}-baseline")
    result = {"pages": args.pages, "cpus": os.cpu_count()}
    try:
        # Two sites: each run's pages are fetched fresh, and first hits are per run.
        if not args.skip_baseline:
            with ArticleSite(args.pages) as site:
                print(f"baseline: {args.pages} pages in one process ...", flush=True)
                result["baseline"] = run_baseline(base_settings, site.article_urls(), site)
                print(json.dumps(result["baseline"]), flush=True)
        with ArticleSite(args.pages) as site:
            print(f"services: {args.pages} pages through Kafka ...", flush=True)
            result["services"] = run_services(svc_settings, env, site.article_urls(), site, args.parse_instances)
            print(json.dumps(result["services"]), flush=True)
    finally:
        cleanup(svc_settings)
        cleanup(base_settings)
    if "baseline" in result:
        result["ratio"] = round(result["services"]["articles_per_s"] / result["baseline"]["articles_per_s"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    write_svg(result, args.out.with_suffix(".svg"))
    print(f"ratio services/baseline: {result.get('ratio')}  -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
