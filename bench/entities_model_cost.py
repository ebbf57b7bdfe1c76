"""CPU per article of extract_entities with two CoreNLP property sets for one language,
alternated on one server: what a model change costs (README.md, "Entities").

    NEWSFLOW_CORENLP_URL=http://127.0.0.1:9013 NEWSFLOW_CORENLP_PID=<server pid> \
    .venv/bin/python bench/entities_model_cost.py --lang en \
        --properties '{"ner.model": "...a,...b", "ner.combinationMode": "HIGH_RECALL"}' [--rounds 4] [--out PATH]

Articles: the enrich benchmark's texts (the 88 extraction-benchmark bodies and the seed) in
the languages that have entities, as enrich detects them. Per pass: this process's CPU time
plus the server's (utime + stime from /proc/<pid>/stat), per article. One warm-up pass of
each first (models loaded, JIT warm), then --rounds rounds, the order alternated. Use a server
nobody else asks during the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", default="en")
    ap.add_argument("--properties", required=True, help="JSON: CoreNLP properties of the candidate")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out")
    a = ap.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    import enrich_bench
    from newsflow.enrich import corenlp
    from newsflow.enrich.entities import extract_entities
    from newsflow.core.language import detect_language

    from record import cpu_seconds, run_started, write_result

    started = run_started()
    pid = int(os.environ["NEWSFLOW_CORENLP_PID"])

    texts = [(text, detect_language(text)["code"]) for _, text in enrich_bench.load_articles(enrich_bench.DEFAULT_PAGES, False)]
    texts = [(t, lang) for t, lang in texts if lang in corenlp.SUPPORTED_LANGUAGES]
    today = dict(corenlp.PROPERTIES[a.lang])
    candidate = {**today, **json.loads(a.properties)}

    def one_pass(properties: dict) -> dict:
        corenlp.PROPERTIES[a.lang] = properties
        client, server = time.process_time(), cpu_seconds(pid)
        for text, lang in texts:
            extract_entities(text, lang)
        client, server = (time.process_time() - client) * 1000 / len(texts), (cpu_seconds(pid) - server) * 1000 / len(texts)
        return {"client_ms": round(client, 1), "server_ms": round(server, 1), "total_ms": round(client + server, 1)}

    one_pass(today), one_pass(candidate)
    rounds: dict[str, list] = {"today": [], "candidate": []}
    for r in range(a.rounds):
        for who in ("today", "candidate") if r % 2 == 0 else ("candidate", "today"):
            rounds[who].append(one_pass(today if who == "today" else candidate))
            print(r, who, rounds[who][-1], "load", os.getloadavg(), flush=True)
    median = {k: statistics.median(x["total_ms"] for x in v) for k, v in rounds.items()}
    result = {
        "articles": len(texts), "articles_in_lang": sum(1 for _, lang in texts if lang == a.lang),
        "today": today["ner.model"], "candidate": candidate,
        "rounds": rounds, "median_total_ms": median,
        "spread_total_ms": {k: [min(x["total_ms"] for x in v), max(x["total_ms"] for x in v)] for k, v in rounds.items()},
        "candidate_over_today": round(median["candidate"] / median["today"], 3),
    }
    print(json.dumps(result, indent=1))
    if a.out:
        write_result(Path(a.out), result, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
