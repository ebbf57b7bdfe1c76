"""State bench: the fetch and enrich services' RSS and time from start to ready with their state
filled with synthetic entries, small and large (issue 12, part 3).

The state lives in Elasticsearch (services/core/state_index.py): the URL state of the fetch
stage and the near-duplicate claims of the enrich stage. The bench fills them directly with
synthetic documents (bulk; no pipeline), first to the small size, then on to the large one,
and at each size starts each service `--rounds` times from nothing (a fresh process with an
empty faust data directory) and measures:

- `health_s`: spawn -> its /health answers (the web server is up);
- `ready_s`: spawn -> it has handled a probe that needs the filled state: for fetch, a
  request for a URL the state says was fetched a minute ago (counted as `recently_fetched`
  on its /metrics, so the state was read); for enrich, a parsed article whose bands a
  synthetic article of the fill has claimed (its news.enriched event carries that article's
  cluster id). This is "partitions assigned, state usable, first input handled";
- `rss_mb`: the process's VmRSS when ready, and its peak (VmHWM).

- `lookup_ms`: the median time of the state requests the stages make per input at that size
  (a URL state by id; the refetch check's due query; a near-duplicate candidate search).

The baseline, in the same command (`--baseline`, by default the commit this branch started
from, unpacked with `git archive`): the in-memory faust tables (`memory://`) it replaces,
their changelog topics filled with the same number of entries (one per URL; 17 per article:
its id and 16 bands), the services started and probed the same way (one round, at the first
`--baseline-sizes` sizes: a start replays the whole changelog).

    .venv/bin/python bench/state_bench.py [--urls 100000,1000000] [--signatures 20000,200000] [--rounds 2] [--baseline REV|none]

Private topic prefix and index alias; its topics and state indices are deleted at the end.
Results in bench/results/state.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import run_started, write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from elasticsearch import Elasticsearch, helpers  # noqa: E402

from newsflow.core.envelope import encode, make_event  # noqa: E402
from newsflow.core.es import es_client  # noqa: E402
from newsflow.core.ids import article_id  # noqa: E402
from newsflow.core.kafka import producer  # noqa: E402
from newsflow.core.logs import configure_logging  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.core.state_index import ensure_state_index, state_index  # noqa: E402
from newsflow.core.topics import ensure_topics  # noqa: E402
from newsflow.enrich import clusters  # noqa: E402
from newsflow.enrich.cluster_state import PROPERTIES as CLAIM_PROPERTIES  # noqa: E402
from newsflow.fetch.poller import REQUEST_SCHEMA, request_event  # noqa: E402
from newsflow.fetch.refetch import parse_schedule  # noqa: E402
from newsflow.fetch.url_state import PROPERTIES as URL_PROPERTIES, state_document  # noqa: E402
from tests.integration.helpers import delete_topics, read_topic  # noqa: E402
from tests.integration.ports import web_port_base  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DAY = 86400.0
WORDS = ("Regierung Bericht Markt Stadt Woche Jahr Land Zeit Firma Daten Preis Plan Netz Energie Schule Bahn Klima "
         "Gericht Polizei Bank Wahl Partei Forschung Studie Kunden Haus Arbeit Zukunft Sicherheit Wetter").split()


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return round(int(fields["VmRSS"].split()[0]) / 1024, 1), round(int(fields["VmHWM"].split()[0]) / 1024, 1)


def fill_urls(es: Elasticsearch, index: str, start: int, stop: int, now: float, schedule) -> float:
    rng = random.Random(start)

    def actions():
        for i in range(start, stop):
            fetched = now - rng.uniform(DAY, 20 * DAY)
            state = {"fetched_at": fetched, "first_fetched_at": fetched - rng.uniform(0, 2 * DAY), "trace_id": f"{i:032x}",
                     "status": 200, "etag": f'"e{i}"', "url": f"https://site{i % 5000}.example/news/{i}.html", "refetched": 3}
            if i % 10 == 0:  # a tenth with a refetch still ahead (not yet due), so the due index has entries
                state.update(first_fetched_at=now - 600, fetched_at=now - 600, refetched=0)
            yield {"_index": index, "_id": f"{i:032x}", "_source": state_document(state, schedule)}

    t0 = time.monotonic()
    for ok, item in helpers.streaming_bulk(es.options(request_timeout=120), actions(), chunk_size=5000, raise_on_error=True):
        pass
    es.indices.refresh(index=index)
    return time.monotonic() - t0


def fill_claims(es: Elasticsearch, index: str, start: int, stop: int, now: float) -> float:
    rng = random.Random(start)

    def actions():
        for i in range(start, stop):
            article = f"{i:032x}"
            keys = [f"a:{article}"] + [f"b{band}:{rng.getrandbits(64):016x}" for band in range(clusters.BANDS)]
            claim = {"article": article, "cluster": article, "claims": keys, "at": now - rng.uniform(0, 29 * DAY), "seq": i}
            yield {"_index": index, "_id": f"{article}-{i}", "_source": claim}

    t0 = time.monotonic()
    for ok, item in helpers.streaming_bulk(es.options(request_timeout=120), actions(), chunk_size=5000, raise_on_error=True):
        pass
    es.indices.refresh(index=index)
    return time.monotonic() - t0


def probe_article(seed: int) -> dict:
    rng = random.Random(seed)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(25)) + "." for _ in range(12))
    url = f"https://probe.example/{RUN}/{seed}.html"
    payload = {"url": url, "final_url": url, "title": f"Probe {seed}", "text": text, "lead": None, "language": "de",
               "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "parser_version": "bench",
               "page_type": "article", "original_url": None, "authors": [], "published": None}
    return make_event("news.parsed/1", article_id(url), uuid.uuid4().hex, payload, "bench")


def start_service(name: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(REPO / ".venv" / "bin" / "newsflow"), "serve", name], env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def stop_service(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the service exited")
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def get(url: str) -> str | None:
    try:
        answer = httpx.get(url, timeout=2)
        return answer.text if answer.status_code == 200 else None
    except httpx.HTTPError:
        return None


def measure_fetch(settings: Settings, env: dict, es: Elasticsearch, index: str, probe_no: int, log: Path) -> dict:
    url = f"https://probe.example/{RUN}/fetch-{probe_no}.html"
    request = request_event(url, "bench", "bench")
    es.index(index=index, id=request["id"], document={"fetched_at": time.time() - 60, "first_fetched_at": time.time() - 60,
                                                        "trace_id": "0" * 32, "status": 200, "url": url, "refetched": 3},
             refresh=True)

    async def send():
        async with producer(settings) as out:
            await out(settings.topic("news.fetch.requests"), request["id"].encode(), encode(request, REQUEST_SCHEMA))
    asyncio.run(send())
    metrics = f"http://127.0.0.1:{int(env['NEWSFLOW_WEB_PORT_BASE']) + 1}"
    pattern = re.compile(r'newsflow_fetch_results_total\{result="recently_fetched"\} (\d+)')
    t0 = time.monotonic()
    proc = start_service("fetch", env, log)
    try:
        wait_for(lambda: get(metrics + "/health"), 300, "fetch health", proc)
        health = time.monotonic() - t0
        wait_for(lambda: (m := pattern.search(get(metrics + "/metrics") or "")) and int(m.group(1)) >= 1, 600,
                 "fetch probe", proc)
        ready = time.monotonic() - t0
        rss, peak = rss_mb(proc.pid)
    finally:
        stop_service(proc)
    return {"health_s": round(health, 2), "ready_s": round(ready, 2), "rss_mb": rss, "peak_rss_mb": peak}


def measure_enrich(settings: Settings, env: dict, es: Elasticsearch, index: str, probe_no: int, log: Path) -> dict:
    event = probe_article(probe_no)
    owner = f"{probe_no:031x}f"  # a synthetic earlier article that claimed the probe's bands
    bands = clusters.band_keys(clusters.signature(event["payload"]["text"]))
    es.index(index=index, id=f"{owner}-0", document={"article": owner, "cluster": owner, "claims": [f"a:{owner}", *bands],
                                                    "at": time.time() - 3600, "seq": 0}, refresh=True)

    async def send():
        async with producer(settings) as out:
            await out(settings.topic("news.parsed"), event["id"].encode(), encode(event, "news.parsed/1"))
    asyncio.run(send())
    web = f"http://127.0.0.1:{int(env['NEWSFLOW_WEB_PORT_BASE']) + 3}"

    def clustered():
        found = [e for e in read_topic(settings, "news.enriched", timeout_s=0.5) if e.get("id") == event["id"]]
        return found and found[-1]["payload"]["enrichment"]["cluster_id"]

    t0 = time.monotonic()
    proc = start_service("enrich", env, log)
    try:
        wait_for(lambda: get(web + "/health"), 300, "enrich health", proc)
        health = time.monotonic() - t0
        cluster = wait_for(clustered, 900, "enrich probe", proc)
        ready = time.monotonic() - t0
        rss, peak = rss_mb(proc.pid)
    finally:
        stop_service(proc)
    if cluster != owner:
        raise AssertionError(f"the probe was clustered {cluster}, not with {owner}: the filled state was not used")
    return {"health_s": round(health, 2), "ready_s": round(ready, 2), "rss_mb": rss, "peak_rss_mb": peak}


def lookup_ms(es: Elasticsearch, url_index: str, claim_index: str, urls: int, sigs: int, now: float, n: int = 200) -> dict:
    """Median milliseconds of the per-input state requests at this fill."""
    rng = random.Random(n + urls)

    def median_ms(call) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000)
        return round(sorted(times)[len(times) // 2], 2)

    def claims_query():
        i = rng.randrange(sigs)
        keys = [f"a:{i:032x}"] + [f"b{band}:{rng.getrandbits(64):016x}" for band in range(clusters.BANDS)]
        es.search(index=claim_index, query={"bool": {"filter": [{"terms": {"claims": keys}},
                                                                   {"range": {"at": {"gte": now - 30 * DAY}}}]}},
                  sort=[{"seq": "asc"}], size=2000)

    return {"url_state_get": median_ms(lambda: es.get(index=url_index, id=f"{rng.randrange(urls):032x}", realtime=True)),
            "refetch_due_query": median_ms(lambda: es.search(index=url_index, query={"range": {"due_at": {"lte": time.time()}}},
                                                              sort=[{"due_at": "asc"}], size=1000)),
            "near_duplicate_candidates": median_ms(claims_query)}


# --- the baseline: in-memory faust tables restored from their changelogs ---------------------

def unpack_baseline(rev: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "services", "schemas"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def baseline_command(base: Path, service: str) -> list[str]:
    code = f"import sys; sys.path.insert(0, {str(base)!r}); from services.{service}.app import main; main()"
    return [str(REPO / ".venv" / "bin" / "python"), "-c", code]


def fill_changelog(settings: Settings, topic: str, partitions: int, start: int, stop: int, entries) -> float:
    """Produce the (key, value) entries of items start..stop to a table's changelog topic."""
    import orjson
    from aiokafka import AIOKafkaProducer
    from newsflow.core.topics import ensure_compacted_topic

    async def go():
        await ensure_compacted_topic(settings, topic, partitions)
        out = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1)
        await out.start()
        try:
            pending = []
            for i in range(start, stop):
                for key, value in entries(i):
                    pending.append(await out.send(topic, orjson.dumps(value), key=orjson.dumps(key), partition=i % partitions))
                if len(pending) > 20000:
                    await asyncio.gather(*pending)
                    pending = []
            await asyncio.gather(*pending)
        finally:
            await out.stop()

    t0 = time.monotonic()
    asyncio.run(go())
    return time.monotonic() - t0


def url_entries(now: float):
    def entries(i: int):
        fetched = now - (i % 20 + 1) * DAY
        yield f"{i:032x}", {"fetched_at": fetched, "first_fetched_at": fetched, "trace_id": f"{i:032x}", "status": 200,
                            "etag": f'"e{i}"', "url": f"https://site{i % 5000}.example/news/{i}.html", "refetched": 3}
    return entries


def claim_entries(i: int):
    rng = random.Random(i)
    article = f"{i:032x}"
    yield f"a:{article}", article
    for band in range(clusters.BANDS):
        yield f"b{band}:{rng.getrandbits(64):016x}", article


def baseline_round(service: str, base: Path, settings: Settings, env: dict, probe_no: int, log: Path, timeout_s: float) -> dict:
    """One start of the baseline service, probed as the others are, the probe's state in its changelog."""
    web = f"http://127.0.0.1:{int(env['NEWSFLOW_WEB_PORT_BASE']) + (1 if service == 'fetch' else 3)}"
    if service == "fetch":
        url = f"https://probe.example/{RUN}/base-fetch-{probe_no}.html"
        request = request_event(url, "bench", "bench")
        fill_changelog(settings, f"{settings.topic_prefix}newsflow-fetch-url-state-changelog", settings.partitions_for(6), 0, 1,
                       lambda i: iter([(request["id"], {"fetched_at": time.time() - 60, "first_fetched_at": time.time() - 60,
                                                        "trace_id": "0" * 32, "status": 200, "url": url, "refetched": 3})]))
        topic, key, value = settings.topic("news.fetch.requests"), request["id"].encode(), encode(request, REQUEST_SCHEMA)
        pattern = re.compile(r'newsflow_fetch_results_total\{result="recently_fetched"\} (\d+)')

        def ready():
            m = pattern.search(get(web + "/metrics") or "")
            return m and int(m.group(1)) >= 1
    else:
        event = probe_article(10_000 + probe_no)
        owner = f"{probe_no:031x}e"
        bands = clusters.band_keys(clusters.signature(event["payload"]["text"]))
        fill_changelog(settings, f"{settings.topic_prefix}newsflow-enrich-clusters-changelog", 1, 0, 1,
                       lambda i: iter([(f"a:{owner}", owner), *((band, owner) for band in bands)]))
        topic, key, value = settings.topic("news.parsed"), event["id"].encode(), encode(event, "news.parsed/1")

        def ready():
            found = [e for e in read_topic(settings, "news.enriched", timeout_s=0.5) if e.get("id") == event["id"]]
            return found and found[-1]["payload"]["enrichment"]["cluster_id"] == owner

    async def send():
        async with producer(settings) as out:
            await out(topic, key, value)
    asyncio.run(send())
    t0 = time.monotonic()
    proc = subprocess.Popen(baseline_command(base, service), env=env, cwd=str(base), stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: get(web + "/health"), 600, f"baseline {service} health", proc)
        health = time.monotonic() - t0
        try:
            wait_for(ready, timeout_s, f"baseline {service} probe", proc)
        except TimeoutError:
            rss, peak = rss_mb(proc.pid)
            return {"health_s": round(health, 2), "ready_s": None, "not_ready_after_s": timeout_s, "rss_mb": rss,
                    "peak_rss_mb": peak}
        ready_s = time.monotonic() - t0
        rss, peak = rss_mb(proc.pid)
    finally:
        stop_service(proc)
    return {"health_s": round(health, 2), "ready_s": round(ready_s, 2), "rss_mb": rss, "peak_rss_mb": peak}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", default="100000,1000000")
    parser.add_argument("--signatures", default="20000,200000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default="merge-base", help="commit of the in-memory tables, or none")
    parser.add_argument("--baseline-timeout", type=float, default=900, help="seconds a baseline start may take")
    parser.add_argument("--baseline-sizes", type=int, default=1,
                        help="run the baseline at the first N sizes (a start replays the whole changelog: at 100,000 "
                             "URLs it took 319 s here, so 1,000,000 would take most of an hour)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "state.json")
    args = parser.parse_args(argv)
    configure_logging("warning", "bench")
    started = run_started()
    url_sizes = [int(n) for n in args.urls.split(",")]
    sig_sizes = [int(n) for n in args.signatures.split(",")]

    var = Path(f"/tmp/statebench-{RUN}")
    var.mkdir(parents=True, exist_ok=True)
    web_base = web_port_base()
    env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": f"statebench{RUN}.", "NEWSFLOW_INDEX_ALIAS": f"statebench{RUN}-articles",
           "NEWSFLOW_WEB_PORT_BASE": str(web_base), "NEWSFLOW_VAR": str(var), "NEWSFLOW_LOG_LEVEL": "warning"}
    settings = Settings().replace(topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"], index_alias=env["NEWSFLOW_INDEX_ALIAS"],
                                  web_port_base=web_base)
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=120)
    url_index, claim_index = state_index(settings, "urls"), state_index(settings, "clusters")
    schedule = parse_schedule(settings.fetch_refetch_schedule)

    async def prepare():
        await ensure_topics(settings)
        client = es_client(settings)
        try:
            await ensure_state_index(client, settings, url_index, URL_PROPERTIES)
            await ensure_state_index(client, settings, claim_index, CLAIM_PROPERTIES)
        finally:
            await client.close()
    asyncio.run(prepare())

    result = {"state": "Elasticsearch indices (services/core/state_index.py)", "rounds": args.rounds,
              "fetch": [], "enrich": []}
    base, base_env, base_settings = None, None, None
    if args.baseline != "none":
        rev = args.baseline
        if rev == "merge-base":
            rev = subprocess.run(["git", "-C", str(REPO), "merge-base", "HEAD", "main"], check=True, capture_output=True,
                                 text=True).stdout.strip()
        base = unpack_baseline(rev, var / "baseline")
        base_var = var / "baseline-var"
        base_var.mkdir(exist_ok=True)
        base_env = {**env, "NEWSFLOW_TOPIC_PREFIX": f"statebase{RUN}.", "NEWSFLOW_VAR": str(base_var),
                    "NEWSFLOW_INDEX_ALIAS": f"statebase{RUN}-articles"}
        base_settings = settings.replace(topic_prefix=base_env["NEWSFLOW_TOPIC_PREFIX"], index_alias=base_env["NEWSFLOW_INDEX_ALIAS"])
        asyncio.run(ensure_topics(base_settings))
        result["baseline"] = {"commit": rev, "state": "in-memory faust tables (memory://) restored from their changelogs",
                              "fetch": [], "enrich": []}
    now, filled_urls, filled_sigs, probe, filled_base = time.time(), 0, 0, 0, [0, 0]
    try:
        for urls, sigs in zip(url_sizes, sig_sizes):
            fill_u = fill_urls(es, url_index, filled_urls, urls, now, schedule)
            fill_s = fill_claims(es, claim_index, filled_sigs, sigs, now)
            filled_urls, filled_sigs = urls, sigs
            print(f"filled {urls} URL states in {fill_u:.0f} s, {sigs} articles' claims in {fill_s:.0f} s", flush=True)
            fetch_rounds, enrich_rounds = [], []
            for r in range(args.rounds):
                probe += 1
                fetch_rounds.append(measure_fetch(settings, env, es, url_index, probe, var / "fetch.log"))
                enrich_rounds.append(measure_enrich(settings, env, es, claim_index, probe, var / "enrich.log"))
                print(f"  round {r + 1}: fetch {fetch_rounds[-1]}, enrich {enrich_rounds[-1]}", flush=True)
            lookups = lookup_ms(es, url_index, claim_index, urls, sigs, now)
            print(f"  lookups {lookups}", flush=True)
            if base is not None and len(result["baseline"]["fetch"]) < args.baseline_sizes:
                fill_bu = fill_changelog(base_settings, f"{base_settings.topic_prefix}newsflow-fetch-url-state-changelog",
                                         base_settings.partitions_for(6), filled_base[0], urls, url_entries(now))
                fill_bs = fill_changelog(base_settings, f"{base_settings.topic_prefix}newsflow-enrich-clusters-changelog",
                                         1, filled_base[1], sigs, claim_entries)
                filled_base[:] = [urls, sigs]
                for service, n, fill in (("fetch", urls, fill_bu), ("enrich", sigs, fill_bs)):
                    probe += 1
                    row = baseline_round(service, base, base_settings, base_env, probe, var / f"baseline-{service}.log",
                                         args.baseline_timeout)
                    key = "url_states" if service == "fetch" else "signatures"
                    result["baseline"][service].append({key: n, "changelog_fill_s": round(fill, 1), "rounds": [row]})
                    print(f"  baseline {service} at {n}: {row}", flush=True)
            url_docs = es.count(index=url_index)["count"]
            claim_docs = es.count(index=claim_index)["count"]
            stats = es.indices.stats(index=f"{url_index},{claim_index}", metric="store")["indices"]
            result["fetch"].append({"url_states": url_docs, "fill_s": round(fill_u, 1), "rounds": fetch_rounds, "lookup_ms": lookups,
                                    "index_mb": round(stats[url_index]["primaries"]["store"]["size_in_bytes"] / 2**20, 1)})
            result["enrich"].append({"signatures": claim_docs, "fill_s": round(fill_s, 1), "rounds": enrich_rounds, "lookup_ms": lookups,
                                     "index_mb": round(stats[claim_index]["primaries"]["store"]["size_in_bytes"] / 2**20, 1)})
        for service in ("fetch", "enrich"):
            small, large = result[service][0]["rounds"], result[service][-1]["rounds"]
            median = lambda rows, key: sorted(row[key] for row in rows)[len(rows) // 2]  # noqa: E731
            result[f"{service}_large_over_small"] = {key: round(median(large, key) / median(small, key), 3)
                                                     for key in ("ready_s", "rss_mb")}
        if base is not None and args.baseline_sizes > 1:
            for service in ("fetch", "enrich"):
                small, large = (result["baseline"][service][i]["rounds"][0] for i in (0, -1))
                result["baseline"][f"{service}_large_over_small"] = {
                    key: (round(large[key] / small[key], 3) if large[key] and small[key] else None) for key in ("ready_s", "rss_mb")}
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{url_index},{claim_index}")
        result["topics_deleted"] = len(delete_topics(settings, [settings.topic_prefix]))
        if base_settings is not None:
            result["topics_deleted"] += len(delete_topics(base_settings, [base_settings.topic_prefix]))
        es.close()
    written = write_result(args.out, result, started=started)
    print({k: v for k, v in written.items() if k.endswith("over_small")})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
