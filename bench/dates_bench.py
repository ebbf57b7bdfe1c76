"""Published dates: exact-day accuracy of the parse stage beside htmldate alone, on htmldate's
default evaluation set (799 pages, ../shared/benchmarks/dates/).

    .venv/bin/python bench/dates_bench.py [--limit N] [--cost ROUNDS] [--out PATH]

Runs the shared scorer (../shared/benchmarks/dates/score.py), which calls the parse stage's
extract_article and, in the same run, htmldate's find_date(original_date=True) on each page;
refusals (ExtractionError, e.g. "no main text in the page") count as misses and are tallied.

--cost ROUNDS also measures what the parse stage's reading of the day a page shows
(metadata.shown_date: microdata, labelled datelines, htmldate on the markup alone) costs: the
CPU time of extract_article over the pages with and without that step, alternating the order
round by round after one warm-up pass, as the ratio with/without per round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import statistics
import time
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCORER = REPO.parent / "shared" / "benchmarks" / "dates" / "score.py"


def cost(rounds: int, limit: int) -> dict:
    sys.path.insert(0, str(REPO / "services"))
    from newsflow.parse import metadata
    from newsflow.parse.extract import extract_article

    gold = json.loads((SCORER.parent / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [(gzip.decompress((SCORER.parent / "html" / f"{key}.html.gz").read_bytes()), item["url"])
             for key, item in list(gold.items())[: limit or None]]
    with_step = metadata.shown_date

    def without_step(tree, url, found_date, meta, nodes):
        return found_date

    def seconds(step) -> float:
        metadata.shown_date = step
        started = time.process_time()
        for html, url in pages:
            try:
                extract_article(html, url, time_limit_s=0)
            except Exception:  # noqa: BLE001 - refusals cost time too, the same both ways
                pass
        return time.process_time() - started

    seconds(with_step)  # warm-up: htmldate's caches and lxml's, paid by neither side
    ratios = []
    for round_ in range(rounds):
        order = [with_step, without_step] if round_ % 2 == 0 else [without_step, with_step]
        timed = {step: seconds(step) for step in order}
        ratios.append(timed[with_step] / timed[without_step])
        print(f"  round {round_ + 1}: with {timed[with_step]:.1f} s, without {timed[without_step]:.1f} s CPU "
              f"for {len(pages)} pages, ratio {ratios[-1]:.3f}", flush=True)
    metadata.shown_date = with_step
    return {"pages": len(pages), "rounds": rounds, "cpu_ratio_median": round(statistics.median(ratios), 3),
            "cpu_ratio_min": round(min(ratios), 3), "cpu_ratio_max": round(max(ratios), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--cost", type=int, default=0, metavar="ROUNDS",
                    help="also measure the CPU cost of reading the day a page shows, in ROUNDS alternating rounds")
    ap.add_argument("--out")
    a = ap.parse_args()
    command = [sys.executable, str(SCORER)] + (["--limit", str(a.limit)] if a.limit else [])
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    result = {
        "command": "bench/dates_bench.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "data": "htmldate's default evaluation set (BBAW collection, 799 pages, Apache-2.0)",
        **figures,
    }
    if a.cost:
        result["shown_date_cost"] = cost(a.cost, a.limit)
    print(f"parse: {figures['accuracy']} exact day, refused {figures['errors']}; "
          f"htmldate alone: {figures.get('htmldate', {}).get('accuracy')}")
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
