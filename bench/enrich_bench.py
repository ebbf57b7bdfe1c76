"""Benchmark of the enrich stage on the 88 benchmark pages: articles/s and time per component.

    .venv/bin/python bench/enrich_bench.py [--pages DIR] [--from-html] [--repeat N] [--json] [--out PATH]

Each page's ground-truth body (or, with --from-html, the body that newsflow.parse.extract
pulls from the HTML), plus the seed article, goes through the stage's own enrich() as a
news.parsed event, one after another in one thread; the shares come from the per-component
timings enrich() records. Needs the CoreNLP server (started here when it is not running).
Lazy loading is done in a warm-up call first and reported separately.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

from newsflow.core.envelope import make_event
from newsflow.core.ids import article_id
from newsflow.enrich import corenlp, embedding
from newsflow.enrich.entities import extract_entities
from newsflow.enrich.stage import enrich

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


def seed_figures(use_gazetteer: bool = True) -> dict:
    """Issue 5's seed thresholds: persons x/10, organisations y/8, precision over all found."""
    seed_dir = SEED.parent
    expected = json.loads((seed_dir / "expected.json").read_text(encoding="utf-8"))
    try:
        from newsflow.parse.extract import extract_article

        page = extract_article((seed_dir / "page.html").read_text(encoding="utf-8"), expected["url"])
        text, source = "\n".join(p for p in (page.get("title"), page.get("lead"), page.get("text")) if p), "page.html"
    except ImportError:
        captured = SEED.read_text(encoding="utf-8")
        text, source = captured[captured.index("Mark Zuckerbergs") : captured.index("Quelle:")], "seed.txt"
    result = extract_entities(text, "de", use_gazetteer=use_gazetteer)
    want = expected["enrich"]
    found = [(field, item["name"]) for field in ("persons", "organizations", "locations") for item in result[field]]
    correct = [(f, n) for f, n in found if n in want[f]]
    return {
        "text_from": source,
        "gazetteer": use_gazetteer,
        "persons": f"{sum(f == 'persons' for f, _ in correct)}/{len(want['persons'])}",
        "organizations": f"{sum(f == 'organizations' for f, _ in correct)}/{len(want['organizations'])}",
        "locations": f"{sum(f == 'locations' for f, _ in correct)}/{len(want['locations'])}",
        "precision": round(len(correct) / max(1, len(found)), 3),
        "not_expected": sorted(n for f, n in found if n not in want[f]),
        "missed": sorted(n for f in ("persons", "organizations", "locations") for n in want[f] if (f, n) not in found),
    }


def ensure_corenlp() -> None:
    try:
        if httpx.get(corenlp.server_url() + "/ready", timeout=2).status_code == 200:
            return
    except httpx.HTTPError:
        pass
    subprocess.run(["bash", str(REPO / "infra" / "corenlp" / "corenlp.sh"), "up"], check=True)


def parsed_event(key: str, text: str) -> dict:
    url = f"https://bench.example/{key}"
    article = {"url": url, "final_url": url, "title": "", "text": text, "fetched_at": "2025-01-01T00:00:00Z",
               "parser_version": "bench", "page_type": "article"}
    return make_event("news.parsed/1", article_id(url), "0" * 32, article, "bench")


def enrich_timed(event: dict, times: dict[str, float]) -> dict:
    """The enrich stage's own function; its per-component timings, with the CoreNLP round trip
    split from the rules, gazetteer and merging that make entities of its mentions."""
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
        enriched = enrich(event, budget_s=600)  # the bench measures; it must not cut anything off
    finally:
        corenlp.recognise = recognise
    enrichment = enriched["payload"]["enrichment"]
    for name, seconds in enrichment["timings"].items():
        if name == "entities":
            times["entities: CoreNLP"] += model_time
            times["entities: rules+merge"] += max(0.0, seconds - model_time)
        else:
            times[name] += seconds
    return enrichment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--from-html", action="store_true", help="bodies from newsflow.parse.extract, not ground truth")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (the median pass is reported)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args()

    ensure_corenlp()
    articles = [(key, parsed_event(key, text)) for key, text in load_articles(args.pages, args.from_html)]
    languages: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    start = time.perf_counter()
    enrich_timed(articles[0][1], defaultdict(float))  # loads YAKE, langid, the embedding model, the regexes
    warm_up = time.perf_counter() - start

    passes = []
    for _ in range(max(1, args.repeat)):
        times: dict[str, float] = defaultdict(float)
        start = time.perf_counter()
        for _, event in articles:
            enrichment = enrich_timed(event, times)
            if not passes:
                languages[enrichment["language"]["code"] or "und"] += 1
                for component in enrichment["errors"]:
                    errors[component] += 1
        passes.append((time.perf_counter() - start, dict(times)))
    wall, times = sorted(passes, key=lambda p: p[0])[len(passes) // 2]

    chars = sum(len(event["payload"]["text"]) for _, event in articles)
    component_total = sum(times.values())
    figures = {
        "seed": [seed_figures(True), seed_figures(False)],
        "articles": len(articles),
        "characters": chars,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
        "component_errors": dict(errors),
        "seconds": round(wall, 3),
        "articles_per_s": round(len(articles) / wall, 2),
        "first_article_s": round(warm_up, 3),
        "share": {name: round(t / component_total, 3) for name, t in sorted(times.items(), key=lambda kv: -kv[1])},
        "ms_per_article": {name: round(1000 * t / len(articles), 2) for name, t in sorted(times.items(), key=lambda kv: -kv[1])},
        "passes_s": [round(p[0], 3) for p in passes],
        "spread_s": round(statistics.pstdev([p[0] for p in passes]), 3),
        "embedding_model": embedding.model_name(),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"enrich stage: {figures['articles']} articles ({chars} chars), "
              f"{figures['articles_per_s']} articles/s (median of {len(passes)} passes, {figures['seconds']} s), "
              f"one worker thread")
        print(f"languages: {figures['languages']}   components that left a field empty: {figures['component_errors']}")
        for name, share in figures["share"].items():
            print(f"  {name:24s} {share:6.1%}  {figures['ms_per_article'][name]:8.2f} ms/article")
        for seed in figures["seed"]:
            print(f"seed ({seed['text_from']}, gazetteer {'on' if seed['gazetteer'] else 'off'}): persons {seed['persons']}, "
                  f"organisations {seed['organizations']}, locations {seed['locations']}, precision {seed['precision']}; "
                  f"not expected {seed['not_expected']}, missed {seed['missed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
