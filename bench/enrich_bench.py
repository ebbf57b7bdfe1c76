"""Benchmark of the enrich components on the 88 benchmark pages: articles/s and time shares.

    .venv/bin/python bench/enrich_bench.py [--pages DIR] [--from-html] [--repeat N] [--json]

Input is each page's ground-truth body (or, with --from-html, the body that
newsflow.parse.extract pulls from the HTML), plus the seed article. Needs the CoreNLP server
(infra/corenlp/corenlp.sh up). Times are wall-clock, one article after another, after one
warm-up pass so lazy loading is not counted; the model load is reported separately.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from newsflow.enrich import corenlp
from newsflow.enrich.dates import extract_dates
from newsflow.enrich.entities import SUPPORTED_LANGUAGES, extract_entities
from newsflow.enrich.keywords import extract_keywords
from newsflow.enrich.language import detect_language
from newsflow.enrich.money import extract_money
from newsflow.enrich.topics import classify_topic

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_PAGES = SHARED / "benchmarks" / "article-extraction"
SEED = SHARED / "fixtures" / "seed-article" / "seed.txt"


def load_articles(pages: Path, from_html: bool) -> list[tuple[str, str]]:
    truth = json.loads((pages / "ground-truth.json").read_text(encoding="utf-8"))
    articles = []
    for key, item in sorted(truth.items()):
        if from_html:
            from newsflow.parse.extract import extract_article

            html = gzip.decompress((pages / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
            parsed = extract_article(html, item.get("url"))
            text = "\n".join(p for p in (parsed.get("title"), parsed.get("lead"), parsed.get("text")) if p)
        else:
            text = item["articleBody"]
        articles.append((key, text))
    if SEED.exists():
        articles.append(("seed", SEED.read_text(encoding="utf-8")))
    return articles


def enrich_timed(text: str, times: dict[str, float]) -> None:
    def timed(name, fn, *args):
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            times[name] += time.perf_counter() - start

    language = timed("language", detect_language, text)["code"] or "en"
    if language in SUPPORTED_LANGUAGES:
        # The CoreNLP round trip is timed alone; rules, gazetteer and merging are the rest.
        start = time.perf_counter()
        recognise = corenlp.recognise
        model_time = 0.0

        def timed_recognise(*args):
            nonlocal model_time
            t = time.perf_counter()
            try:
                return recognise(*args)
            finally:
                model_time += time.perf_counter() - t

        corenlp.recognise = timed_recognise
        try:
            extract_entities(text, language)
        finally:
            corenlp.recognise = recognise
        times["entities: CoreNLP"] += model_time
        times["entities: rules+merge"] += time.perf_counter() - start - model_time
    timed("money", extract_money, text, language)
    timed("dates", extract_dates, text, language)
    keywords = timed("keywords", extract_keywords, text, language)
    timed("topic", classify_topic, text, keywords, language)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--from-html", action="store_true", help="bodies from newsflow.parse.extract, not ground truth")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (the median pass is reported)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    articles = load_articles(args.pages, args.from_html)
    languages = defaultdict(int)
    start = time.perf_counter()
    for _, text in articles[:1]:
        enrich_timed(text, defaultdict(float))  # loads YAKE, langid, the regexes
    warm_up = time.perf_counter() - start
    for _, text in articles:
        languages[detect_language(text)["code"] or "und"] += 1

    passes = []
    for _ in range(max(1, args.repeat)):
        times: dict[str, float] = defaultdict(float)
        start = time.perf_counter()
        for _, text in articles:
            enrich_timed(text, times)
        passes.append((time.perf_counter() - start, dict(times)))
    wall, times = sorted(passes, key=lambda p: p[0])[len(passes) // 2]

    chars = sum(len(text) for _, text in articles)
    component_total = sum(times.values())
    figures = {
        "articles": len(articles),
        "characters": chars,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
        "seconds": round(wall, 3),
        "articles_per_s": round(len(articles) / wall, 2),
        "first_article_s": round(warm_up, 3),
        "share": {name: round(t / component_total, 3) for name, t in sorted(times.items(), key=lambda kv: -kv[1])},
        "ms_per_article": {name: round(1000 * t / len(articles), 2) for name, t in sorted(times.items(), key=lambda kv: -kv[1])},
        "passes_s": [round(p[0], 3) for p in passes],
        "spread_s": round(statistics.pstdev([p[0] for p in passes]), 3),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"enrich components: {figures['articles']} articles ({chars} chars), "
              f"{figures['articles_per_s']} articles/s (median of {len(passes)} passes, {figures['seconds']} s)")
        print(f"languages: {figures['languages']}")
        for name, share in figures["share"].items():
            print(f"  {name:24s} {share:6.1%}  {figures['ms_per_article'][name]:8.2f} ms/article")
    return 0


if __name__ == "__main__":
    sys.exit(main())
