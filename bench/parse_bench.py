"""Benchmark of the parse function against trafilatura's defaults, in the same run.

    .venv/bin/python bench/parse_bench.py [--iterations 10000] [--rounds 3] [--out results.json]

On the 88 pages of ../shared/benchmarks/article-extraction:
- body-text F1, precision and recall of both, with the benchmark's own scorer;
- pages/s of both: rounds alternate between the two so that machine load hits both alike;
  wall-clock and CPU time (process_time, less sensitive to other load) are both reported;
- memory: RSS before the first parse, after the warm-up pass, and after --iterations parses
  cycling over the pages, with samples in between to show whether it stays flat.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import trafilatura

from record import write_result  # noqa: E402  (bench/ is on the path of a script run from it)

from newsflow.parse.extract import PARSER_VERSION, ExtractionError, extract_article

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = REPO.parent / "shared" / "benchmarks" / "article-extraction"

Page = tuple[str, bytes, str]  # key, html bytes, url
Extractor = Callable[[bytes, str], str]


def ours(html: bytes, url: str) -> str:
    try:
        return extract_article(html, url)["text"]
    except ExtractionError:
        return ""


def trafilatura_defaults(html: bytes, url: str) -> str:
    return trafilatura.extract(html) or ""


EXTRACTORS: dict[str, Extractor] = {"newsflow": ours, "trafilatura": trafilatura_defaults}


def load_pages(pages_dir: Path) -> tuple[list[Page], dict]:
    truth = json.loads((pages_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [(key, gzip.decompress((pages_dir / "html" / f"{key}.html.gz").read_bytes()), item["url"])
             for key, item in sorted(truth.items())]
    return pages, truth


def load_scorer(pages_dir: Path):
    spec = importlib.util.spec_from_file_location("article_extraction_score", pages_dir / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quality(scorer, truth: dict, pages: list[Page], extract: Extractor) -> dict:
    predictions = {key: {"articleBody": extract(html, url)} for key, html, url in pages}
    f1, precision, recall = scorer.score(truth, predictions, [key for key, _, _ in pages])
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4)}


def speed(pages: list[Page], rounds: int) -> dict[str, dict]:
    """Pages/s of each extractor, rounds interleaved."""
    wall = dict.fromkeys(EXTRACTORS, 0.0)
    cpu = dict.fromkeys(EXTRACTORS, 0.0)
    for _ in range(rounds):
        for name, extract in EXTRACTORS.items():
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            for _, html, url in pages:
                extract(html, url)
            wall[name] += time.perf_counter() - wall_start
            cpu[name] += time.process_time() - cpu_start
    count = rounds * len(pages)
    return {name: {"pages_per_s": round(count / wall[name], 1), "pages_per_cpu_s": round(count / cpu[name], 1),
                   "ms_per_page": round(1000 * wall[name] / count, 2)} for name in EXTRACTORS}


def rss_mb() -> float:
    """Resident set size now, from /proc (Linux); peak RSS elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(pages: list[Page], iterations: int, samples: int = 10) -> dict:
    """RSS over `iterations` parses cycling through the pages."""
    gc.collect()
    start = rss_mb()
    trace = [(0, round(start, 1))]
    every = max(1, iterations // samples)
    for i in range(1, iterations + 1):
        _, html, url = pages[i % len(pages)]
        ours(html, url)
        if i % every == 0 or i == iterations:
            trace.append((i, round(rss_mb(), 1)))
    gc.collect()
    end = rss_mb()
    return {"iterations": iterations, "rss_start_mb": round(start, 1), "rss_end_mb": round(end, 1),
            "rss_growth_mb": round(end - start, 1), "trace": trace}


def print_table(results: dict) -> None:
    print(f"\n{'extractor':<12} {'F1':>6} {'prec.':>6} {'recall':>6} {'pages/s':>8} {'pages/CPU-s':>12} {'ms/page':>8}")
    for name in EXTRACTORS:
        q, s = results["quality"][name], results["speed"][name]
        print(f"{name:<12} {q['f1']:>6.3f} {q['precision']:>6.3f} {q['recall']:>6.3f} "
              f"{s['pages_per_s']:>8.1f} {s['pages_per_cpu_s']:>12.1f} {s['ms_per_page']:>8.2f}")
    print(f"speed ratio newsflow/trafilatura: {results['speed_ratio']:.2f} (wall), {results['speed_ratio_cpu']:.2f} (CPU)")
    m = results["memory"]
    print(f"RSS over {m['iterations']} parses: start {m['rss_start_mb']:.1f} MB, end {m['rss_end_mb']:.1f} MB "
          f"(growth {m['rss_growth_mb']:+.1f} MB; before any parse {results['rss_before_mb']:.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="benchmark folder (ground-truth.json, html/, score.py)")
    parser.add_argument("--iterations", type=int, default=10_000, help="parses for the memory measurement")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the pages, per extractor")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    rss_before = rss_mb()
    pages, truth = load_pages(args.pages)
    scorer = load_scorer(args.pages)
    # the quality pass doubles as warm-up: lazy imports and models load before timing
    results = {
        "parser_version": PARSER_VERSION,
        "trafilatura_version": trafilatura.__version__,
        "python": platform.python_version(),
        "pages": len(pages),
        "rss_before_mb": round(rss_before, 1),
        "quality": {name: quality(scorer, truth, pages, extract) for name, extract in EXTRACTORS.items()},
    }
    results["speed"] = speed(pages, args.rounds)
    results["speed_ratio"] = round(results["speed"]["newsflow"]["pages_per_s"] / results["speed"]["trafilatura"]["pages_per_s"], 2)
    results["speed_ratio_cpu"] = round(results["speed"]["newsflow"]["pages_per_cpu_s"] / results["speed"]["trafilatura"]["pages_per_cpu_s"], 2)
    results["memory"] = memory(pages, args.iterations)
    print_table(results)
    if args.out:
        write_result(args.out, results)
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
