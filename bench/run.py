"""`make bench`: run every benchmark in bench/ (each compares newsflow with a baseline in the
same run and reports the ratio), writing JSON results to bench/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
# Minutes long and needing the running stack: only when named (make bench-e2e, or `run.py e2e`).
ON_DEMAND = {"e2e", "scaleout"}


def main(argv: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    wanted = set(argv)
    failures = 0
    for script in sorted(BENCH.glob("*_bench.py")):
        name = script.stem.removesuffix("_bench")
        if wanted and name not in wanted:
            continue
        if not wanted and name in ON_DEMAND:
            continue
        print(f"\n=== {name} ===", flush=True)
        done = subprocess.run([sys.executable, str(script), "--out", str(RESULTS / f"{name}.json")])
        failures += done.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
