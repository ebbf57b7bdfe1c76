"""Scale-out: the parse stage with 1 and then 2 instances in one consumer group, on the same
--pages raw events. Both instances must take part (each reports events on its /metrics) and
the rate should rise.

    .venv/bin/python bench/scaleout_bench.py [--pages 1500] [--max-instances 2] [--out bench/results/scaleout.json]

Each round has its own topic prefix (so its own group and a full backlog): the instances are
started and healthy first, then the raw events are produced, and the clock runs from the first
send until news.parsed holds every output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from record import write_result  # noqa: E402  (bench/ is on the path of a script run from it)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.e2e_bench import REPO, RUN, start_extra  # noqa: E402  (sets the bench environment)
import httpx  # noqa: E402

from newsflow.stages import WEB_PORT_OFFSETS  # noqa: E402
from newsflow.core.envelope import encode  # noqa: E402
from newsflow.core.kafka import end_offsets, producer  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.core.topics import ensure_topics  # noqa: E402
from newsflow.fetch.fetcher import FetchedPage, raw_event  # noqa: E402
from tests.articlesite import article_html  # noqa: E402
from tests.integration.conftest import Services, free_port, wait_until  # noqa: E402


def raw_events(n: int, settings: Settings) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        url = f"https://scale.example/news/{i}.html"
        page = FetchedPage(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                           body=article_html(i), fetched_at="2025-07-01T00:00:00.000Z", elapsed_ms=1.0)
        event = raw_event({"payload": {"url": url, "source": "bench"}, "trace_id": "%032x" % i}, page, settings)
        out.append((event["id"].encode(), encode(event, "news.raw/1")))
    return out


def events_in(port_base: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port_base + WEB_PORT_OFFSETS['parse']}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("newsflow_events_in_total{"))


def parsed_count(settings: Settings) -> int:
    return sum(asyncio.run(end_offsets(settings, [settings.topic("news.parsed")])).values())


def round_with(instances: int, events: list[tuple[bytes, bytes]]) -> dict:
    base = free_port() + 10
    env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": f"scale{RUN}x{instances}.", "NEWSFLOW_WEB_PORT_BASE": str(base),
           "NEWSFLOW_LOG_LEVEL": "warning"}
    settings = Settings().replace(topic_prefix=env["NEWSFLOW_TOPIC_PREFIX"], web_port_base=base)
    asyncio.run(ensure_topics(settings))
    services = Services(env, REPO / ".var" / "logs" / f"bench-scale-{RUN}x{instances}")
    services.start("parse")
    for i in range(1, instances):
        start_extra(services, "parse", i)
    bases = [base + 100 * i for i in range(instances)]

    def healthy() -> bool:
        try:
            return all(events_in(b) >= 0 for b in bases)
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 120, "parse instances healthy")
        time.sleep(8)  # let the group settle on its final assignment before the clock starts

        async def send_all():
            async with producer(settings) as send:
                for key, value in events:
                    await send(settings.topic("news.raw"), key, value)

        started = time.monotonic()
        asyncio.run(send_all())
        wait_until(lambda: parsed_count(settings) >= len(events), 1200, "every raw event parsed", interval=0.5)
        seconds = time.monotonic() - started
        per_instance = [events_in(b) for b in bases]
    finally:
        services.stop_all()
    return {"instances": instances, "seconds": round(seconds, 2), "events_per_s": round(len(events) / seconds, 1),
            "events_per_instance": per_instance}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1500)
    parser.add_argument("--max-instances", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scaleout.json")
    args = parser.parse_args(argv)
    events = raw_events(args.pages, Settings())
    rounds = []
    for n in range(1, args.max_instances + 1):
        rounds.append(round_with(n, events))
        print(json.dumps(rounds[-1]), flush=True)
    result = {"stage": "parse", "pages": args.pages, "cpus": os.cpu_count(), "rounds": rounds,
              "speedup": round(rounds[-1]["events_per_s"] / rounds[0]["events_per_s"], 2)}
    write_result(args.out, result)
    print(f"speedup with {args.max_instances} instances: {result['speedup']}  -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
