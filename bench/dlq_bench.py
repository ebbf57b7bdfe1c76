"""`newsflow dlq` on a large dead-letter topic: how long `dlq count` and `dlq redrive` take over
--letters dead letters (the real CLI, as subprocesses), and, like with like in the same run,
reading the letters with the command's structural check against validating each one with its
JSON Schema (the baseline), alternated, per round.

    .venv/bin/python bench/dlq_bench.py [--letters 20000] [--rounds 3] [--out bench/results/dlq.json]

Runs on its own topic prefix, whose topics it deletes at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newsflow.core.dlq import DLQ_SCHEMA, dead_letter_event  # noqa: E402
from newsflow.core.envelope import InvalidEvent, decode, encode, make_event  # noqa: E402
from newsflow.core.ids import article_id, new_trace_id  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.core.topics import ensure_topics  # noqa: E402
from newsflow.dlq.letters import parse_letter  # noqa: E402
from tests.integration.helpers import delete_topics  # noqa: E402

NEWSFLOW = str(REPO / ".venv" / "bin" / "newsflow")
STAGES = (("fetch", "FetchFailed", "news.fetch.requests"), ("parse", "ExtractionError", "news.raw"),
          ("enrich", "InvalidEvent", "news.parsed"), ("index", "RejectedByElasticsearch", "news.enriched"))


def letters(n: int, settings: Settings) -> list[bytes]:
    out = []
    for i in range(n):
        stage, error, topic = STAGES[i % len(STAGES)]
        url = f"https://dlq.example/news/{i}.html"
        request = make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                             {"url": url, "source": "bench", "requested_at": "2025-07-01T00:00:00.000Z"}, "bench")
        # ~1.7 KB each: a request plus a reason of the length pages' failures have
        letter = dead_letter_event(stage=stage, error=error, reason=f"bench failure {i} " + "x" * 1400,
                                   topic=settings.topic(topic), original=orjson.dumps(request), partition=i % 6,
                                   offset=i, article_id=request["id"], trace_id=request["trace_id"])
        out.append(encode(letter, DLQ_SCHEMA))
    return out


async def produce(settings: Settings, values: list[bytes]) -> None:
    await ensure_topics(settings)
    client = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=20)
    await client.start()
    try:
        futures = [await client.send(settings.topic("news.dlq"), value) for value in values]
        await asyncio.gather(*futures)
    finally:
        await client.stop()


def timed_cli(env: dict, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([NEWSFLOW, *args], env=env, capture_output=True, text=True, timeout=900, check=True)
    return time.perf_counter() - started, done.stdout.strip().splitlines()[-1]


def read_structural(values: list[bytes]) -> float:
    started = time.perf_counter()
    assert all(parse_letter(v, 0, i) is not None for i, v in enumerate(values))
    return time.perf_counter() - started


def read_validated(values: list[bytes]) -> float:
    started = time.perf_counter()
    for v in values:
        try:
            decode(v, DLQ_SCHEMA)
        except InvalidEvent:
            raise AssertionError("a bench letter is invalid") from None
    return time.perf_counter() - started


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--letters", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "dlq.json"))
    args = parser.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    env = {**os.environ, "NEWSFLOW_TOPIC_PREFIX": prefix, "NEWSFLOW_INDEX_ALIAS": f"{prefix}articles"}
    os.environ.update(NEWSFLOW_TOPIC_PREFIX=prefix)
    settings = Settings()
    values = letters(args.letters, settings)
    try:
        asyncio.run(produce(settings, values))
        count_s, reads = [], {"structural": [], "json_schema": []}
        for r in range(args.rounds):
            count_s.append(timed_cli(env, "dlq", "count")[0])
            order = ("structural", "json_schema") if r % 2 == 0 else ("json_schema", "structural")
            for name in order:
                reads[name].append((read_structural if name == "structural" else read_validated)(values))
        redrive_s, redrive_out = timed_cli(env, "dlq", "redrive", "--all", "--quiet")
        again_s, again_out = timed_cli(env, "dlq", "redrive", "--all", "--quiet")
    finally:
        delete_topics(settings, [settings.topic_prefix])

    result = {
        "command": " ".join(["python bench/dlq_bench.py", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg_1m": os.getloadavg()[0]},
        "letters": args.letters,
        "letter_bytes": round(statistics.mean(len(v) for v in values)),
        "rounds": args.rounds,
        "dlq_count_s": spread(count_s),
        "read_letters_s": {name: spread(times) for name, times in reads.items()},
        "read_speedup": round(statistics.median(reads["json_schema"]) / statistics.median(reads["structural"]), 1),
        "redrive_all_s": round(redrive_s, 2),
        "redrive_all": redrive_out,
        "redrive_again_s": round(again_s, 2),
        "redrive_again": again_out,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
