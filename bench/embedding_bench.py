"""Cost per article of the two embedding models, like with like: the same article texts (the
88 extraction-benchmark pages' bodies and the seed, as the enrich stage embeds them), in the
same process, rounds alternating MiniLM and E5 (order swapped every round).

    .venv/bin/python bench/embedding_bench.py [--rounds N] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = REPO.parent / "shared" / "benchmarks" / "article-extraction" / "ground-truth.json"
MODELS = ["all-minilm-l6-v2", "multilingual-e5-small"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out")
    a = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from newsflow.enrich import embedding

    texts = [item["articleBody"] for item in json.loads(PAGES.read_text(encoding="utf-8")).values()]
    for model in MODELS:  # loading is not what is measured
        embedding.embed("warm up", model)
    per_round: dict[str, list[float]] = {m: [] for m in MODELS}
    for round_no in range(a.rounds):
        for model in MODELS if round_no % 2 == 0 else MODELS[::-1]:
            started = time.perf_counter()
            for text in texts:
                embedding.embed(text, model)
            per_round[model].append((time.perf_counter() - started) / len(texts) * 1000)
            print(f"round {round_no + 1} {model}: {per_round[model][-1]:.0f} ms/article", flush=True)
    result = {
        "command": "bench/embedding_bench.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "articles": len(texts),
        "input": {"all-minilm-l6-v2": f"first {embedding.MAX_TOKENS} tokens",
                  "multilingual-e5-small": f"first {embedding.E5_MAX_CHARS} characters"},
        "ms_per_article": {m: {"median": round(statistics.median(v), 1), "rounds": [round(x, 1) for x in v],
                               "spread": round(statistics.pstdev(v), 1)} for m, v in per_round.items()},
    }
    ratio = result["ms_per_article"]["multilingual-e5-small"]["median"] / result["ms_per_article"]["all-minilm-l6-v2"]["median"]
    result["e5_over_minilm"] = round(ratio, 2)
    print(f"E5 / MiniLM per article: {ratio:.2f}x")
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
