"""Published dates: exact-day accuracy of the parse stage beside htmldate alone, on htmldate's
default evaluation set (799 pages, ../shared/benchmarks/dates/).

    .venv/bin/python bench/dates_bench.py [--limit N] [--out PATH]

Runs the shared scorer (../shared/benchmarks/dates/score.py), which calls the parse stage's
extract_article and, in the same run, htmldate's find_date(original_date=True) on each page;
refusals (ExtractionError, e.g. "no main text in the page") count as misses and are tallied.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCORER = REPO.parent / "shared" / "benchmarks" / "dates" / "score.py"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0)
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
    print(f"parse: {figures['accuracy']} exact day, refused {figures['errors']}; "
          f"htmldate alone: {figures.get('htmldate', {}).get('accuracy')}")
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
