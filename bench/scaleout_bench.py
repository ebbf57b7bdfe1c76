"""Scale-out: 1, 2, ... --max-instances instances of the parse or the enrich stage in one consumer
group, on the same backlog of --pages events. Every instance must take part (each reports
events on its /metrics); the figures are events/s and CPU seconds per event (user + system
of the stage's processes, from /proc, over the timed stretch).

    .venv/bin/python bench/scaleout_bench.py [--stage parse|enrich] [--pages 1500] [--max-instances 2]
        [--rounds 1] [--cluster] [--out bench/results/scaleout.json]

--cluster runs everything on the local cluster (`infra/stack.sh cluster-up`, started when not
running, under NEWSFLOW_VAR with CLUSTER_KAFKA_PORT / CLUSTER_ES_PORT, and left running):
three brokers through the bootstrap list, topics replicated three times with two in sync.
Without it, the single local broker.

Each run has its own topic prefix (so its own group and a full backlog): the instances are
started and healthy, warmed on a few events each (models loaded, partitions assigned), then
the backlog is produced and the clock runs from the first send until the stage's output topic
holds every output (news.parsed for parse, news.enriched for enrich). Rounds go 1..N, then
N..1, alternating, so load that drifts over the run falls on every count alike; the figures
per count are the median of the rounds with their range. Enrich calls the NER server at
NEWSFLOW_CORENLP_URL (its CPU is not in the per-event figure: with NEWSFLOW_CORENLP_PID set it
is reported apart).

On a 2-core machine more instances cannot make more CPU: events/s stops rising once the cores
are full, and CPU seconds per event (the cost that scale-out on more machines multiplies out)
is the honest figure to size with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from record import cpu_seconds, run_started, write_result  # noqa: E402  (bench/ is on the path of a script run from it)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.e2e_bench import REPO, RUN, start_extra  # noqa: E402  (sets the bench environment)
import httpx  # noqa: E402

from newsflow.stages import WEB_PORT_OFFSETS  # noqa: E402
from newsflow.core.envelope import encode  # noqa: E402
from newsflow.core.kafka import end_offsets, producer  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.core.topics import ensure_topics  # noqa: E402
from newsflow.fetch.fetcher import FetchedPage, raw_event  # noqa: E402
from newsflow.parse.stage import parse  # noqa: E402
from tests.articlesite import article_html  # noqa: E402
from tests.integration.conftest import Services, wait_until  # noqa: E402
from tests.integration.ports import web_port_base  # noqa: E402

# stage -> (input topic, input schema, output topic)
STAGE_TOPICS = {"parse": ("news.raw", "news.raw/1", "news.parsed"),
                "enrich": ("news.parsed", "news.parsed/1", "news.enriched")}
WARM_EVENTS = 24


def raw_events(n: int, settings: Settings, first: int = 0) -> list[tuple[bytes, bytes, dict]]:
    out = []
    for i in range(first, first + n):
        url = f"https://scale.example/news/{i}.html"
        page = FetchedPage(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                           body=article_html(i), fetched_at="2025-07-01T00:00:00.000Z", elapsed_ms=1.0)
        event = raw_event({"payload": {"url": url, "source": "bench"}, "trace_id": "%032x" % i}, page, settings)
        out.append((event["id"].encode(), encode(event, "news.raw/1"), event))
    return out


def backlog(stage: str, n: int, settings: Settings, first: int = 0) -> list[tuple[bytes, bytes]]:
    """The stage's input: raw pages for parse, the same pages parsed (by parse()) for enrich."""
    raws = raw_events(n, settings, first)
    if stage == "parse":
        return [(key, value) for key, value, _ in raws]
    parsed = [parse(event) for _, _, event in raws]
    return [(event["id"].encode(), encode(event, "news.parsed/1")) for event in parsed]


def events_in(port_base: int, stage: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port_base + WEB_PORT_OFFSETS[stage]}/metrics", timeout=10).text
    pattern = re.compile(rf'^newsflow_events_in_total{{[^}}]*stage="{stage}"[^}}]*}} (\S+)$', re.M)
    return sum(float(v) for v in pattern.findall(text))


def output_count(settings: Settings, topic: str) -> int:
    return sum(asyncio.run(end_offsets(settings, [settings.topic(topic)])).values())


def send(settings: Settings, topic: str, events: list[tuple[bytes, bytes]]) -> None:
    async def go():
        async with producer(settings) as put:
            for key, value in events:
                await put(settings.topic(topic), key, value)

    asyncio.run(go())


def one_run(stage: str, instances: int, events: list[tuple[bytes, bytes]], warm: list[tuple[bytes, bytes]],
            round_no: int) -> dict:
    source, _, target = STAGE_TOPICS[stage]
    base = web_port_base(instances)
    prefix = f"scale{RUN}{stage[0]}{round_no}x{instances}."
    env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": prefix, "NEWSFLOW_WEB_PORT_BASE": str(base),
           "NEWSFLOW_LOG_LEVEL": "warning"}
    settings = Settings().replace(topic_prefix=prefix, web_port_base=base)
    asyncio.run(ensure_topics(settings))
    services = Services(env, REPO / ".var" / "logs" / f"bench-scale-{RUN}{stage}{round_no}x{instances}")
    services.start(stage)
    for i in range(1, instances):
        start_extra(services, stage, i)
    bases = [base + 100 * i for i in range(instances)]

    def counts() -> list[float] | None:
        try:
            return [events_in(b, stage) for b in bases]
        except httpx.HTTPError:
            return None

    try:
        wait_until(lambda: counts() is not None, 300, f"{stage} instances healthy", interval=1)
        # Warm every instance (models loaded, partitions assigned): events until each has had some.
        sent_warm = 0
        deadline = time.monotonic() + 600
        while not all(c > 0 for c in counts() or [0]):
            assert time.monotonic() < deadline, f"not every instance took events: {counts()}"
            if sent_warm < len(warm):
                send(settings, source, warm[sent_warm:sent_warm + 6])
                sent_warm += 6
            time.sleep(2)
        wait_until(lambda: output_count(settings, target) >= sent_warm, 600, "the warm-up done", interval=0.5)
        warm_counts = counts()
        pids = [proc.proc.pid for proc in services.procs.values()]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        corenlp_pid = int(os.environ["NEWSFLOW_CORENLP_PID"]) if os.environ.get("NEWSFLOW_CORENLP_PID") else None
        corenlp_before = cpu_seconds(corenlp_pid)
        started = time.monotonic()
        send(settings, source, events)
        wait_until(lambda: output_count(settings, target) >= sent_warm + len(events), 3600,
                   f"every {source} event through {stage}", interval=0.5)
        seconds = time.monotonic() - started
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        corenlp_cpu = cpu_seconds(corenlp_pid) - corenlp_before
        per_instance = [round(after - before) for after, before in zip(counts(), warm_counts)]
    finally:
        services.stop_all()
    assert all(n > 0 for n in per_instance), f"an instance took no event of the backlog: {per_instance}"
    out = {"instances": instances, "round": round_no, "seconds": round(seconds, 2),
           "events_per_s": round(len(events) / seconds, 1), "cpu_s": round(cpu, 2),
           "cpu_ms_per_event": round(1000 * cpu / len(events), 2), "events_per_instance": per_instance}
    if corenlp_pid:
        out["corenlp_cpu_ms_per_event"] = round(1000 * corenlp_cpu / len(events), 2)
    return out


def summarise(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}


def use_cluster() -> None:
    """Starts (or finds running) the local cluster and points this process and the services at it."""
    subprocess.run([str(REPO / "infra" / "stack.sh"), "cluster-up"], check=True, timeout=1800)
    kafka_port, es_port = int(os.environ.get("CLUSTER_KAFKA_PORT", "19092")), int(os.environ.get("CLUSTER_ES_PORT", "19200"))
    os.environ.update({
        "NEWSFLOW_KAFKA": ",".join(f"127.0.0.1:{kafka_port + 2 * i}" for i in range(3)),
        "NEWSFLOW_ELASTICSEARCH": f"http://127.0.0.1:{es_port},http://127.0.0.1:{es_port + 1}",
        "NEWSFLOW_KAFKA_REPLICATION_FACTOR": "3", "NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS": "2", "NEWSFLOW_ES_REPLICAS": "1"})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=sorted(STAGE_TOPICS), default="parse")
    parser.add_argument("--pages", type=int, default=1500)
    parser.add_argument("--max-instances", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="runs of every instance count, order alternated")
    parser.add_argument("--cluster", action="store_true", help="on the local three-broker cluster (infra/stack.sh cluster-up)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scaleout.json")
    args = parser.parse_args(argv)
    started = run_started()
    if args.cluster:
        use_cluster()
    settings = Settings()
    events = backlog(args.stage, args.pages, settings)
    warm = backlog(args.stage, WARM_EVENTS, settings, first=10_000_000)
    counts = list(range(1, args.max_instances + 1))
    runs = []
    for round_no in range(args.rounds):
        for n in (counts if round_no % 2 == 0 else counts[::-1]):
            runs.append(one_run(args.stage, n, events, warm, round_no))
            print(json.dumps(runs[-1]), flush=True)
    by_count = []
    for n in counts:
        mine = [r for r in runs if r["instances"] == n]
        by_count.append({"instances": n, "events_per_s": summarise(mine, "events_per_s"),
                         "cpu_ms_per_event": summarise(mine, "cpu_ms_per_event")})
    one = by_count[0]["events_per_s"]["median"]
    for row in by_count:
        row["speedup"] = round(row["events_per_s"]["median"] / one, 2)
    result = {"stage": args.stage, "pages": args.pages, "rounds": args.rounds, "cpus": os.cpu_count(),
              "kafka": settings.kafka_bootstrap, "replication_factor": settings.kafka_replication_factor,
              "min_insync_replicas": settings.kafka_min_insync_replicas, "by_instances": by_count, "runs": runs}
    write_result(args.out, result, started)
    for row in by_count:
        print(f"{args.stage} x{row['instances']}: {row['events_per_s']['median']} events/s "
              f"({row['events_per_s']['min']}-{row['events_per_s']['max']}), "
              f"{row['cpu_ms_per_event']['median']} CPU ms/event "
              f"({row['cpu_ms_per_event']['min']}-{row['cpu_ms_per_event']['max']})")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
