"""End-to-end benchmark: a generated site of --pages article pages through the running services
(fetch -> parse -> enrich -> index over Kafka), beside a single-process baseline in the same run
that calls the same functions with no Kafka (the fetch stage's handler, parse(), enrich(),
to_action() and write_batch()).

    .venv/bin/python bench/e2e_bench.py [--pages 2000] [--paced-pages 300] [--services-first] [--out bench/results/e2e.json]

Needs the shared Kafka, Elasticsearch and CoreNLP (`make up`); the services run as subprocesses
under their own topic prefix and index alias, removed at the end. Latency is fetch-to-searchable:
from the site seeing the page's request to the document appearing in a search of the alias
(one poller measures both runs alike). Also: time per stage (the services' own
newsflow_process_seconds histograms), CPU seconds per article of every service process and of
the servers (from /proc), RSS per service sampled every 0.5 s. Writes JSON and an SVG plot
beside it (bench/results/e2e.svg).

Like with like: the baseline parses and enriches NEWSFLOW_ENRICH_CONCURRENCY articles at a time,
as the enrich service does; both are warmed first (models loaded, services consuming), and
--services-first swaps their order. Then, `paced`: with the services still running, fresh pages
are submitted at half the capacity just measured (--paced-fraction), evenly spaced, not as a
backlog, for fetch-to-searchable latency in normal running.

Paced, each article's time is also split into hops (bench/hops.py: fetch queue, fetch, parse,
enrich, clustering, index wait, index write + refresh) from the topics' message timestamps.
Other modes: --pages 0 --skip-baseline --paced-rate R (a short paced-only run); --ab-env
'VAR=old ...' (a stage restarted with old settings or the defaults, alternated round by round:
backlog articles/s and paced latency); --pages 10000 --skip-baseline --paced-pages 0
--submit-rate 3 --heap-every 2000 (memory: RSS against articles, written as the run goes, slope
per 1,000 articles, heap counts per type). A stopped run leaves its file with stopped_because.

Run it on a CoreNLP server nobody else uses (CORENLP_PORT=9010 NEWSFLOW_VAR=/tmp/x
infra/corenlp/corenlp.sh up; NEWSFLOW_CORENLP_URL=http://127.0.0.1:9010 NEWSFLOW_CORENLP_PID=...)
for its CPU per article to be this run's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test site and service harness live under tests/

RUN = uuid.uuid4().hex[:8]
# Politeness lifted for our own local site, the same for both runs.
os.environ.update({"NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8", "NEWSFLOW_FETCH_HOST_DELAY": "0",
                   "NEWSFLOW_FETCH_HOST_CONCURRENCY": "8",
                   "NEWSFLOW_LOG_LEVEL": "warning"})
# As the enrich package sets for its service (services/enrich/__init__.py), before anything here
# loads numpy: the baseline's embedding must not run on more BLAS threads than the service's.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import httpx  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402

from bench.e2e_plot import write_svg  # noqa: E402
from bench.record import cpu_seconds, run_started, write_result  # noqa: E402
from bench.hops import HOPS, hop_breakdown  # noqa: E402
from bench.rss_log import RssLog, growth_summary, read_rss_mb  # noqa: E402
from newsflow.stages import WEB_PORT_OFFSETS  # noqa: E402
from newsflow.core.envelope import make_event, utc_now, encode  # noqa: E402
from newsflow.core.es import es_client  # noqa: E402
from newsflow.index.layout import ensure_index  # noqa: E402
from newsflow.core.ids import article_id, new_trace_id  # noqa: E402
from newsflow.core.kafka import admin_client, producer  # noqa: E402
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
from tests.integration.helpers import delete_topics, read_topic, stage_healthy  # noqa: E402
from tests.integration.conftest import STAGES, ServiceProcess, Services, wait_until  # noqa: E402
from tests.integration.ports import web_port_base  # noqa: E402


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(values), 3)}


class Visibility:
    """Polls the alias and notes when each id first shows up in a search (= searchable)."""

    def __init__(self, settings: Settings, ids: set[str], interval_s: float = 0.25):
        self.settings, self.ids, self.seen, self.interval_s = settings, ids, {}, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client = Elasticsearch(self.settings.elasticsearch_url, request_timeout=30)
        while not self._stop.is_set() and len(self.seen) < len(self.ids):
            unseen = [i for i in self.ids if i not in self.seen][:10_000]
            found = client.options(ignore_status=(404, 503)).search(
                index=self.settings.index_alias, query={"ids": {"values": unseen}}, source=False, size=len(unseen))
            now = time.monotonic()
            for hit in found.get("hits", {}).get("hits", []):
                if hit["_id"] in self.ids:  # not the warm-up's pages, nor an earlier run's
                    self.seen.setdefault(hit["_id"], now)
            time.sleep(self.interval_s)
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
                if (mb := read_rss_mb(proc.proc.pid)) is not None:
                    self.samples.setdefault(name, []).append(mb)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def summary(self) -> dict:
        """Peak and mean, and the mean of the first and last quarter of the run: flat memory
        has last - first near zero."""
        out = {}
        for name, v in self.samples.items():
            quarter = max(1, len(v) // 4)
            first, last = statistics.fmean(v[:quarter]), statistics.fmean(v[-quarter:])
            out[name] = {"max_mb": round(max(v), 1), "mean_mb": round(statistics.fmean(v), 1),
                         "first_quarter_mb": round(first, 1), "last_quarter_mb": round(last, 1),
                         "growth_mb": round(last - first, 1), "samples": len(v)}
        return out


def server_pids() -> dict[str, int]:
    """The servers' pids from their pid files under NEWSFLOW_VAR; CoreNLP's from
    NEWSFLOW_CORENLP_PID when the bench uses a server of its own."""
    var = Path(os.environ.get("NEWSFLOW_VAR", REPO / ".var"))
    files = {"kafka": var / "kafka" / "kafka.pid", "elasticsearch": var / "elasticsearch" / "es.pid",
             "corenlp": var / "corenlp" / "corenlp.pid"}
    pids = {}
    for name, path in files.items():
        try:
            pids[name] = int(path.read_text().strip())
        except (OSError, ValueError):
            pass
    if os.environ.get("NEWSFLOW_CORENLP_PID"):
        pids["corenlp"] = int(os.environ["NEWSFLOW_CORENLP_PID"])
    return pids


class CpuMeter:
    """CPU seconds per article of each named process over a stretch of the run."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def per_article_ms(self, articles: int) -> dict[str, float]:
        spent = {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}
        out = {name: round(1000 * s / max(1, articles), 1) for name, s in spent.items()}
        return out


def request_event(url: str) -> dict:
    return make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                      {"url": url, "source": "bench", "requested_at": utc_now()}, "bench")


async def baseline(settings: Settings, urls: list[str]) -> dict:
    """Everything in one process: pages fetched concurrently (the fetch stage's handler and
    limits), parse + enrich on as many worker threads as the enrich service enriches articles
    at a time (NEWSFLOW_ENRICH_CONCURRENCY), bulk writes of up to 200 documents with the index
    stage's writer."""
    es = es_client(settings)
    index = await ensure_index(es, settings)
    fetch = make_handler(settings, {}, Fetcher(settings))
    worker = ThreadPoolExecutor(max_workers=max(1, settings.enrich_concurrency))
    pending: list[dict] = []
    seconds = {"fetch": 0.0, "parse": 0.0, "enrich": 0.0, "index": 0.0}
    lock = threading.Lock()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def parse_enrich(raw: dict) -> dict:
        t0 = time.perf_counter()
        parsed = parse(raw)
        t1 = time.perf_counter()
        enriched = enrich(parsed)
        with lock:
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
    return {k: round(v, 2) for k, v in seconds.items()} | {"enrich_threads": max(1, settings.enrich_concurrency)}


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
    text = httpx.get(f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS['index']}/metrics", timeout=10).text
    for line in text.splitlines():  # the index stage's time per batch (mget + bulk), not per event
        if line.startswith("newsflow_index_batch_seconds_sum") or line.startswith("newsflow_index_batch_seconds_count"):
            kind = "seconds" if "_sum" in line else "batches"
            out.setdefault("index-batches", {})[kind] = round(float(line.rsplit(" ", 1)[1]), 2)
    if out.get("index-batches", {}).get("batches"):
        out["index-batches"]["ms_per_batch"] = round(1000 * out["index-batches"]["seconds"] / out["index-batches"]["batches"], 2)
    for v in out.values():
        if v.get("events"):
            v["ms_per_event"] = round(1000 * v["seconds"] / v["events"], 2)
    return out


async def submit(settings: Settings, urls: list[str]) -> None:
    async with producer(settings) as send:
        for url in urls:
            event = request_event(url)
            await send(settings.topic("news.fetch.requests"), event["id"].encode(), encode(event, "news.fetch.request/1"))


def heap_report(settings: Settings, services: Services, baseline: bool = False) -> dict:
    """Each service's heap count per type (core/memory.py via /debug/memory); with `baseline`,
    later reports give the growth since."""
    out = {}
    for stage in STAGES:
        try:
            url = f"http://127.0.0.1:{settings.web_port_base + WEB_PORT_OFFSETS[stage]}/debug/memory"
            out[stage] = httpx.get(url, params={"baseline": "1"} if baseline else {}, timeout=120).json()
        except (httpx.HTTPError, ValueError) as exc:
            out[stage] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def run_services(settings: Settings, env: dict, urls: list[str], site: ArticleSite, parse_instances: int,
                 warm_pages: int, paced_pages: int, paced_fraction: float, memory: dict | None = None,
                 progress=lambda: None, submit_rate: float = 0.0, poll_s: float = 0.25,
                 heap_every: int = 0, paced_rate: float = 0.0, ab: dict | None = None) -> dict:
    """`memory` (a dict the caller keeps) gets the RSS samples against the articles searchable
    as the run goes, and heap counts every `heap_every` articles; `progress()` writes them."""
    memory = {} if memory is None else memory
    asyncio.run(ensure_topics(settings))
    services = Services(env, REPO / ".var" / "logs" / f"bench-e2e-{RUN}")
    try:
        for stage in STAGES:
            services.start(stage)
        for i in range(1, parse_instances):  # extra parse workers in the same group, on their own web ports
            start_extra(services, "parse", i)
        wait_until(lambda: all(stage_healthy(settings, s) for s in STAGES), 120, "services healthy")
        def dead_letters() -> set[str]:
            return {e.get("id") for e in read_topic(settings, "news.dlq", timeout_s=1.0)}

        if warm_pages:  # models loaded, partitions assigned, connections open: not timed
            with ArticleSite(warm_pages) as warm:
                warm_urls = warm.article_urls()
                with Visibility(settings, {article_id(u) for u in warm_urls}) as seen:
                    asyncio.run(submit(settings, warm_urls))
                    # A cold stage on a busy machine may time out on its first page: dead letters end the wait too.
                    seen.wait(600, dead_letters)
        pids = {name: proc.proc.pid for name, proc in services.procs.items()} | server_pids()
        result: dict = {"warm_pages": warm_pages}
        if urls:  # the backlog: every page at once (or at --submit-rate)
            ids = {article_id(u) for u in urls}
            memory["heap"] = {"0": heap_report(settings, services, baseline=True)} if heap_every else {}
            checkpoints = {"next": heap_every}

            def write_progress(samples: list[dict]) -> None:
                memory["samples"] = samples
                done = samples[-1]["articles"] if samples else 0
                if heap_every and done >= checkpoints["next"]:
                    memory["heap"][str(done)] = heap_report(settings, services)
                    checkpoints["next"] = (done // heap_every + 1) * heap_every
                progress()

            with RssSampler(services) as rss, Visibility(settings, ids, poll_s) as seen, \
                    RssLog(lambda: {n: p.proc.pid for n, p in services.procs.items()}, lambda: len(seen.seen),
                           write_progress) as rss_log:
                cpu = CpuMeter(pids)
                es_before = es_index_times(settings)
                started = time.monotonic()
                if submit_rate > 0:
                    asyncio.run(submit_paced(settings, urls, submit_rate))
                else:
                    asyncio.run(submit(settings, urls))
                dead = seen.wait(3600 + (len(urls) / submit_rate if submit_rate > 0 else 0), dead_letters)
                cpu_ms = cpu.per_article_ms(len(urls))
                es_ms = es_index_times(settings, since=es_before, per=len(urls))
            memory["samples"] = rss_log.samples
            if heap_every:
                memory["heap"]["end"] = heap_report(settings, services)
            elapsed = max(seen.seen.values()) - started
            latencies = [seen.seen[article_id(u)] - site.first_hit(u) for u in urls if article_id(u) in seen.seen]
            result = {"seconds": round(elapsed, 2), "articles_per_s": round(len(seen.seen) / elapsed, 2),
                      "searchable": len(seen.seen), "dead_lettered": sorted(dead),
                      "latency_s": percentiles(latencies), "stage_time": stage_seconds(settings),
                      "cpu_ms_per_article": cpu_ms, "elasticsearch_ms_per_article_by_index": es_ms, "rss": rss.summary(), "parse_instances": parse_instances,
                      "warm_pages": warm_pages, "submit_rate_per_s": submit_rate or None}
            print(json.dumps(result), flush=True)
        if ab:
            result["ab"] = run_ab(settings, services, pids, ab, dead_letters)
        if paced_pages:
            rate = paced_rate or paced_fraction * result["articles_per_s"]
            print(f"paced: {paced_pages} pages at {rate:.2f}/s ...", flush=True)
            result["paced"] = run_paced(settings, paced_pages, rate, services, pids)
        return result
    finally:
        services.stop_all()


_ES_TIMES = {"indexing": ("indexing", "index_time_in_millis"), "search": ("search", "query_time_in_millis"),
             "get": ("get", "time_in_millis"), "refresh": ("refresh", "total_time_in_millis"),
             "refreshes": ("refresh", "total"), "merge": ("merges", "total_time_in_millis"),
             "flush": ("flush", "total_time_in_millis")}


def es_index_times(settings: Settings, since: dict | None = None, per: int = 1) -> dict:
    """Elasticsearch's own time per operation in each of the run's indices (the articles and the
    stages' state), from its index stats: where its CPU per article goes. With `since`, the
    difference, divided by `per` (milliseconds, and refreshes, per article)."""
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    try:
        stats = client.indices.stats(index=f"{settings.index_alias}*", metric="indexing,search,get,refresh,merge,flush")
    finally:
        client.close()
    now = {"articles" + name.removeprefix(settings.index_alias): {k: index["total"][a][b] for k, (a, b) in _ES_TIMES.items()}
           for name, index in stats["indices"].items()}
    if since is None:
        return now
    return {name: {k: round((v - since.get(name, {}).get(k, 0)) / per, 3) for k, v in times.items()}
            for name, times in sorted(now.items())}


def restart_stage(settings: Settings, services: Services, stage: str, overrides: dict[str, str], dead_letters) -> None:
    """The stage's service stopped and started again with `overrides` on the services' env,
    then warmed with a few pages (partitions assigned, connections open)."""
    services.procs.pop(stage).stop()
    proc = ServiceProcess(stage, {**services.env, **overrides}, services.log_dir / f"{stage}.log")
    proc.start()
    services.procs[stage] = proc
    wait_until(lambda: stage_healthy(settings, stage), 120, f"{stage} healthy")
    with ArticleSite(10) as warm:
        urls = warm.article_urls()
        with Visibility(settings, {article_id(u) for u in urls}) as seen:
            asyncio.run(submit(settings, urls))
            seen.wait(600, dead_letters)


def run_ab(settings: Settings, services: Services, pids: dict, ab: dict, dead_letters) -> dict:
    """Old against new settings of one stage, alternated round by round in one run: the stage is
    restarted with the old settings (`ab["old"]`, env overrides) or the defaults, then a backlog
    (`backlog_pages` at once: articles/s and CPU per article) and a paced run (`paced_pages` at
    `rate`: fetch-to-searchable and its hops)."""
    out: dict = {"stage": ab["stage"], "old_env": ab["old"], "rounds": []}
    for r in range(ab["rounds"]):
        for arm in (("old", "new") if r % 2 == 0 else ("new", "old")):
            restart_stage(settings, services, ab["stage"], ab["old"] if arm == "old" else {}, dead_letters)
            pids = {**pids, ab["stage"]: services.procs[ab["stage"]].proc.pid}
            round_ = {"round": r, "arm": arm}
            if ab["backlog_pages"]:
                with ArticleSite(ab["backlog_pages"]) as site:
                    urls = site.article_urls()
                    with Visibility(settings, {article_id(u) for u in urls}) as seen:
                        cpu = CpuMeter(pids)
                        started = time.monotonic()
                        asyncio.run(submit(settings, urls))
                        seen.wait(1800, dead_letters)
                        round_["backlog"] = {"pages": len(urls), "articles_per_s": round(len(seen.seen) / (max(seen.seen.values()) - started), 2),
                                             "cpu_ms_per_article": cpu.per_article_ms(len(urls)),
                                             "load_average": [round(x, 2) for x in os.getloadavg()]}
            if ab["paced_pages"]:
                paced = run_paced(settings, ab["paced_pages"], ab["rate"], services, pids)
                round_["paced"] = {k: paced[k] for k in ("latency_s", "hops_s", "load_average", "index_batch_seconds", "rate_per_s")}
                round_["paced"]["latencies"] = paced["latencies"]
            print(json.dumps({k: v for k, v in round_.items()})[:600], flush=True)
            out["rounds"].append(round_)
    for arm in ("old", "new"):
        rounds = [r for r in out["rounds"] if r["arm"] == arm]
        summary: dict = {}
        if ab["paced_pages"]:
            summary["paced_latency_s"] = percentiles([x for r in rounds for x in r["paced"]["latencies"]])
            summary["paced_p95_by_round"] = [r["paced"]["latency_s"]["p95"] for r in rounds]
        if ab["backlog_pages"]:
            summary["backlog_articles_per_s_by_round"] = [r["backlog"]["articles_per_s"] for r in rounds]
            summary["backlog_cpu_ms_per_article_by_round"] = [r["backlog"]["cpu_ms_per_article"] for r in rounds]
        out[arm] = summary
    for r in out["rounds"]:
        r.get("paced", {}).pop("latencies", None)
    return out


def run_paced(settings: Settings, pages: int, rate: float, services: Services, pids: dict) -> dict:
    """Fresh pages submitted one every 1/rate seconds to the running services; latency from
    the site seeing each request to the document being searchable."""
    with ArticleSite(pages) as site:
        urls = site.article_urls()
        with RssSampler(services) as rss, Visibility(settings, {article_id(u) for u in urls}) as seen:
            cpu = CpuMeter(pids)
            started = time.monotonic()
            asyncio.run(submit_paced(settings, urls, rate))
            submitted = time.monotonic() - started
            dead = seen.wait(600, lambda: {e.get("id") for e in read_topic(settings, "news.dlq", timeout_s=1.0)})
            cpu_ms = cpu.per_article_ms(len(urls))
        latencies = [seen.seen[article_id(u)] - site.first_hit(u) for u in urls if article_id(u) in seen.seen]
        marks = hop_marks(settings, urls, site, seen)
    return {"pages": pages, "rate_per_s": round(rate, 2), "submitting_s": round(submitted, 1),
            "searchable": len(seen.seen), "dead_lettered": len(dead), "latency_s": percentiles(latencies), "target_p95_s": 2.0,
            "hops_s": hop_breakdown(marks), "hops": [f"{name}: {a} -> {b}" for name, a, b in HOPS],
            "cpu_ms_per_article": cpu_ms, "rss": rss.summary(), "stage_time": stage_seconds(settings),
            "index_batch_seconds": settings.index_batch_seconds, "refresh_interval": _refresh_interval(settings),
            "poll_interval_s": seen.interval_s, "load_average": [round(x, 2) for x in os.getloadavg()],
            "latencies": [round(x, 3) for x in latencies]}


def hop_marks(settings: Settings, urls: list[str], site: ArticleSite, seen: Visibility) -> dict[str, dict[str, float]]:
    """Per article, the wall-clock time of each mark of bench/hops.py: the site's first hit and
    the poll's first sight (monotonic, shifted to wall clock), each topic's message timestamp
    (the first message of the article there) and the document's indexed_at."""
    shift = time.time() - time.monotonic()
    ids = {article_id(u): u for u in urls}
    marks: dict[str, dict[str, float]] = {}
    for i, url in ids.items():
        m = marks[i] = {}
        if site.first_hit(url) is not None:
            m["fetch_start"] = site.first_hit(url) + shift
        if i in seen.seen:
            m["searchable"] = seen.seen[i] + shift
    topics = {"submitted": "news.fetch.requests", **{t: t for t in ("news.raw", "news.parsed", "news.enrich.clustering", "news.enriched")}}
    for mark, topic in topics.items():
        for i, ts in asyncio.run(_topic_times(settings, topic, set(ids))).items():
            marks[i][mark] = ts
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=60)
    found = client.mget(index=settings.index_alias, ids=list(ids), source_includes=["indexed_at"])
    client.close()
    for doc in found["docs"]:
        if doc.get("found") and doc["_source"].get("indexed_at"):
            marks[doc["_id"]]["indexed_at"] = datetime.fromisoformat(doc["_source"]["indexed_at"].replace("Z", "+00:00")).timestamp()
    return marks


async def _topic_times(settings: Settings, topic: str, ids: set[str]) -> dict[str, float]:
    """The timestamp (s) of each id's first message on the topic (the key is the article id)."""
    consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    times: dict[str, float] = {}
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2000, max_records=5000)
            if not batch:
                return times
            for messages in batch.values():
                for m in messages:
                    key = (m.key or b"").decode(errors="replace")
                    if key in ids:
                        times[key] = min(times.get(key, float("inf")), m.timestamp / 1000)
    finally:
        await consumer.stop()


async def submit_paced(settings: Settings, urls: list[str], rate: float) -> None:
    async with producer(settings) as send:
        start = time.monotonic()
        for i, url in enumerate(urls):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            event = request_event(url)
            await send(settings.topic("news.fetch.requests"), event["id"].encode(), encode(event, "news.fetch.request/1"))


def _refresh_interval(settings: Settings) -> str | None:
    try:
        client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
        found = client.indices.get_settings(index=settings.index_alias, name="index.refresh_interval", include_defaults=True)
        client.close()
        for body in found.values():
            return (body.get("settings") or body.get("defaults") or {}).get("index", {}).get("refresh_interval")
    except Exception:  # noqa: BLE001 - a figure for the report, not a failure of the run
        return None
    return None


def start_extra(services: Services, name: str, i: int) -> None:
    """Instance i (>= 1) of a stage beside the first: same consumer group, its own web port
    and faust data directory, as a second machine would have."""
    env = {**services.env, "NEWSFLOW_WEB_PORT_BASE": str(int(services.env["NEWSFLOW_WEB_PORT_BASE"]) + 100 * i),
           "NEWSFLOW_VAR": str(REPO / ".var" / f"bench-{RUN}-{name}{i}")}
    proc = ServiceProcess(name, env, services.log_dir / f"{name}-{i}.log")
    proc.start()
    services.procs[f"{name}-{i}"] = proc


def run_baseline(settings: Settings, urls: list[str], site: ArticleSite, warm_pages: int) -> dict:
    if warm_pages:  # models loaded, connections open: not timed
        with ArticleSite(warm_pages) as warm:
            asyncio.run(baseline(settings, warm.article_urls()))
    ids = {article_id(u) for u in urls}
    pids = {"baseline": os.getpid()} | server_pids()
    with Visibility(settings, ids) as seen:
        cpu = CpuMeter(pids)
        started = time.monotonic()
        spent = asyncio.run(baseline(settings, urls))
        seen.wait(600)
        cpu_ms = cpu.per_article_ms(len(urls))
    elapsed = max(seen.seen.values()) - started
    latencies = [seen.seen[article_id(u)] - site.first_hit(u) for u in urls]
    return {"seconds": round(elapsed, 2), "articles_per_s": round(len(urls) / elapsed, 2),
            "latency_s": percentiles(latencies), "stage_time_s": spent, "cpu_ms_per_article": cpu_ms,
            "warm_pages": warm_pages}


async def _broker_partitions(settings: Settings) -> int:
    admin = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_topics(await admin.list_topics())
        return sum(len(topic.get("partitions", [])) for topic in described)
    finally:
        await admin.close()


def servers_hold(settings: Settings) -> dict:
    """What the servers hold besides this run: their upkeep per partition and per shard (checkpoints,
    metadata, scheduled refreshes) is part of their CPU per article, so a broker full of other runs'
    topics measures higher than a fresh one."""
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    try:
        shards = client.cluster.health()["active_shards"]
    finally:
        client.close()
    return {"kafka_partitions": asyncio.run(_broker_partitions(settings)), "elasticsearch_shards": shards}


def cleanup(settings: Settings, topics: bool = False) -> None:
    """The run's indices, and with `topics` its topics (the services run's own prefix only)."""
    if topics and settings.topic_prefix.startswith("bench"):
        try:
            # so that the shared broker does not keep them: every client of the broker holds the
            # metadata of all its partitions
            delete_topics(settings, [settings.topic_prefix])
        except Exception as exc:  # noqa: BLE001 - leftovers, not a failed run
            print(f"could not delete the run's topics: {exc}", flush=True)
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
    # the fetch and enrich stages' state (services/core/state_index.py)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-state-urls,{settings.index_alias}-state-clusters")
    client.options(ignore_status=404).indices.delete_index_template(name=f"newsflow-articles-{settings.index_alias}")
    client.close()


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(f"stopped by signal {signum} (SIGTERM)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--parse-instances", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--services-first", action="store_true", help="run the services before the baseline")
    parser.add_argument("--warm-pages", type=int, default=40, help="untimed pages through each run first")
    parser.add_argument("--paced-pages", type=int, default=300, help="pages submitted at a pace after the backlog (0: none)")
    parser.add_argument("--paced-fraction", type=float, default=0.5, help="pace as a fraction of the measured capacity")
    parser.add_argument("--paced-rate", type=float, default=0.0,
                        help="pace in pages/s instead of the fraction (with --pages 0 --skip-baseline: a short paced-only run)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "e2e.json")
    parser.add_argument("--submit-rate", type=float, default=0.0,
                        help="submit the services run's pages at this many per second (0: all at once, a backlog)")
    parser.add_argument("--poll-interval", type=float, default=0.25, help="seconds between the searchability polls")
    parser.add_argument("--rss-warmup-articles", type=int, default=1000,
                        help="RSS slope (MB per 1,000 articles) over the samples after this many articles")
    parser.add_argument("--ab-env", default="", help="old settings to alternate with the defaults, e.g. "
                        "'NEWSFLOW_INDEX_BATCH_SECONDS=0.3 NEWSFLOW_INDEX_REFRESH_AFTER_WRITE=0': --ab-stage restarted each round")
    parser.add_argument("--ab-stage", default="index")
    parser.add_argument("--ab-rounds", type=int, default=2, help="rounds of each arm, order alternated")
    parser.add_argument("--ab-backlog-pages", type=int, default=0)
    parser.add_argument("--ab-paced-pages", type=int, default=0)
    parser.add_argument("--heap-every", type=int, default=0,
                        help="heap count per type of every service every this many articles (0: none)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    configure_logging("warning", "bench")
    started = run_started()

    web_base = web_port_base(instances=5)  # + 100 * i for extra parse instances
    env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": f"bench{RUN}.", "NEWSFLOW_INDEX_ALIAS": f"bench{RUN}-articles",
           "NEWSFLOW_WEB_PORT_BASE": str(web_base)}
    svc_settings = Settings().replace(topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"], index_alias=env["NEWSFLOW_INDEX_ALIAS"],
                                      web_port_base=web_base)
    base_settings = Settings().replace(index_alias=f"bench{RUN}-baseline")
    result = {"pages": args.pages, "cpus": os.cpu_count(), "enrich_concurrency": Settings().enrich_concurrency,
              "order": ["services", "baseline"] if args.services_first else ["baseline", "services"]}
    if args.skip_baseline:
        result["order"] = ["services"]
    result["servers_hold_at_start"] = servers_hold(svc_settings)
    print(f"the servers hold {result['servers_hold_at_start']}", flush=True)
    memory: dict = {}
    ab = None
    if args.ab_env:
        ab = {"stage": args.ab_stage, "old": dict(pair.split("=", 1) for pair in args.ab_env.split()), "rounds": args.ab_rounds,
              "backlog_pages": args.ab_backlog_pages, "paced_pages": args.ab_paced_pages, "rate": args.paced_rate or 3.0}

    def with_memory(figures: dict) -> dict:
        if memory.get("samples"):
            figures["memory"] = {"rss_mb_by_articles": memory["samples"],
                                 "slope_after_warmup": growth_summary(memory["samples"], args.rss_warmup_articles),
                                 "warmup_articles": args.rss_warmup_articles, "heap": memory.get("heap", {})}
        return figures

    def progress() -> None:  # the run so far, so that a stopped run leaves its samples
        write_result(args.out, with_memory({**result, "partial": True, "stopped_because": "still running"}), started)

    def do_baseline() -> None:
        with ArticleSite(args.pages) as site:  # each run's own site: pages fetched fresh, first hits per run
            print(f"baseline: {args.pages} pages in one process ...", flush=True)
            result["baseline"] = run_baseline(base_settings, site.article_urls(), site, args.warm_pages)
            print(json.dumps(result["baseline"]), flush=True)

    def do_services() -> None:
        with ArticleSite(args.pages) as site:
            print(f"services: {args.pages} pages through Kafka ...", flush=True)
            result["services"] = run_services(svc_settings, env, site.article_urls(), site, args.parse_instances,
                                              args.warm_pages, args.paced_pages, args.paced_fraction, memory, progress,
                                              args.submit_rate, args.poll_interval, args.heap_every, args.paced_rate, ab)
            if "paced" in result["services"]:
                result["paced"] = result["services"].pop("paced")
                result["paced"].pop("latencies", None)
                print(json.dumps(result["paced"]), flush=True)
            if "ab" in result["services"]:
                result["ab"] = result["services"].pop("ab")

    try:
        for run in result["order"]:
            do_baseline() if run == "baseline" else do_services()
    except BaseException as exc:  # stopped (SIGTERM, Ctrl-C) or failed: the file says so, with the samples so far
        write_result(args.out, with_memory({**result, "partial": True,
                                            "stopped_because": f"{type(exc).__name__}: {exc}"[:500]}), started)
        raise
    finally:
        cleanup(svc_settings, topics=True)
        cleanup(base_settings)
    if "baseline" in result and "articles_per_s" in result.get("services", {}):
        result["ratio"] = round(result["services"]["articles_per_s"] / result["baseline"]["articles_per_s"], 3)
    result["target_articles_per_s"] = 20.0
    result["stopped_because"] = "completed"
    result = write_result(args.out, with_memory(result), started)
    if "articles_per_s" in result.get("services", {}):  # not for a paced-only run
        write_svg(result, args.out.with_suffix(".svg"))
    print(f"ratio services/baseline: {result.get('ratio')}  -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
