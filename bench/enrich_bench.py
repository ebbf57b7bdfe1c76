"""Benchmark of the enrich stage on the 88 benchmark pages: the stage's enrich() beside the
enrich() of an earlier commit (the baseline) in the same run, with quality figures beside speed.

    .venv/bin/python bench/enrich_bench.py [--baseline REV] [--rounds N] [--no-quality] [--out PATH]

Each page's ground-truth body (or, with --from-html, the body that newsflow.parse.extract
pulls from the HTML), plus the seed article, goes through enrich() as a news.parsed event, one
after another in one thread. The baseline's code is the services/ tree of git revision REV
(default BASELINE_REV, the commit before issue 14's enrich work), unpacked into a temporary
directory and imported as the package `newsflow_baseline`: nothing of it is kept in the repo.
Per round both run over every article, in alternating order (old first in odd rounds), so
load from elsewhere on this shared machine hits both alike; each round gives a ratio, and the
median round's is reported with the spread.

Per core: CPU seconds of this process (every thread) plus those of the CoreNLP server, read
from /proc for the server's pid (NEWSFLOW_CORENLP_PID, or the pid file under NEWSFLOW_VAR);
the server should be one nobody else uses during the run (CORENLP_PORT=9010
NEWSFLOW_VAR=/tmp/x infra/corenlp/corenlp.sh up, NEWSFLOW_CORENLP_URL=http://127.0.0.1:9010).
The server's JVM settings are part of what is measured: --baseline-corenlp-url and
--baseline-corenlp-pid send the baseline's passes to a second server started the way the
baseline commit started it (its infra/corenlp/corenlp.sh), so each side runs as deployed;
without them both sides share one server and the ratio is the code's alone.

Quality, old and new: entity F1 on the GermEval 2014 news dev documents (the shared scorer),
the seed article's figures, and how far the new entities and keywords agree with the old on the
benchmark pages. Needs the CoreNLP server (started here when it is not running).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import importlib.abc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

# First: the enrich package sets OPENBLAS_NUM_THREADS=1 (see its __init__), which only
# counts if numpy is not loaded yet (httpx and elasticsearch may load it).
from newsflow.enrich import corenlp, embedding  # isort: skip

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from newsflow.core.envelope import make_event  # noqa: E402
from newsflow.core.ids import article_id  # noqa: E402
from entities_bench import count  # noqa: E402
from record import cpu_seconds, run_started, write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_PAGES = SHARED / "benchmarks" / "article-extraction"
GERMEVAL_SCORER = SHARED / "benchmarks" / "entities" / "score.py"
# The last commit before issue 14's enrich work (yake-rust, cheaper entity counting, compact
# CoreNLP answers): the baseline that `make bench` measures today's enrich() against.
BASELINE_REV = "ba6d12c"
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


def seed_figures(extract_entities, use_gazetteer: bool = True) -> dict:
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


class _CoreAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """newsflow_baseline.core[.x] is today's newsflow.core[.x]: the baseline brings its own
    enrich/ but shares the core (envelope, settings), whose metrics may exist only once."""

    def find_spec(self, name, path=None, target=None):
        if name == "newsflow_baseline.core" or name.startswith("newsflow_baseline.core."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("newsflow" + spec.name[len("newsflow_baseline"):])

    def exec_module(self, module):
        pass


def load_baseline(rev: str, into: Path) -> SimpleNamespace:
    """The enrich package of git revision `rev`, imported as newsflow_baseline."""
    tree = subprocess.run(["git", "archive", rev, "services/enrich"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=tree, check=True)
    package = into / "newsflow_baseline"
    (into / "services").rename(package)
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(into))
    sys.meta_path.insert(0, _CoreAlias())
    return _package("newsflow_baseline", rev)


def _package(root: str, label: str) -> SimpleNamespace:
    return SimpleNamespace(label=label, stage=importlib.import_module(f"{root}.enrich.stage"),
                           corenlp=importlib.import_module(f"{root}.enrich.corenlp"),
                           entities=importlib.import_module(f"{root}.enrich.entities"))


def enrich_timed(pkg: SimpleNamespace, event: dict, times: dict[str, float]) -> dict:
    """The package's enrich(); its per-component timings, with the CoreNLP round trip split
    from the rules, gazetteer and merging that make entities of its mentions."""
    recognise = pkg.corenlp.recognise
    model_time = 0.0

    def timed_recognise(*args):
        nonlocal model_time
        t = time.perf_counter()
        try:
            return recognise(*args)
        finally:
            model_time += time.perf_counter() - t

    pkg.corenlp.recognise = timed_recognise
    try:
        enriched = pkg.stage.enrich(event, budget_s=600)  # the bench measures; it must not cut anything off
    finally:
        pkg.corenlp.recognise = recognise
    enrichment = enriched["payload"]["enrichment"]
    for name, seconds in enrichment["timings"].items():
        if name == "entities":
            times["entities: CoreNLP"] += model_time
            times["entities: rules+merge"] += max(0.0, seconds - model_time)
        else:
            times[name] += seconds
    return enrichment


def corenlp_pid() -> int | None:
    """The CoreNLP server's pid, for its CPU time: NEWSFLOW_CORENLP_PID, or the pid file of the
    server that infra/corenlp/corenlp.sh started under NEWSFLOW_VAR (when that one is at the URL)."""
    if os.environ.get("NEWSFLOW_CORENLP_PID"):
        return int(os.environ["NEWSFLOW_CORENLP_PID"])
    pid_file = Path(os.environ.get("NEWSFLOW_VAR", REPO / ".var")) / "corenlp" / "corenlp.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def use_server(pkg: SimpleNamespace, url: str) -> None:
    """Points the package's CoreNLP client at `url` (its module reads the URL per call)."""
    pkg.corenlp.server_url = lambda: url


def one_pass(pkg: SimpleNamespace, articles: list[tuple[str, dict]], server_pid: int | None, keep: dict | None) -> dict:
    times: dict[str, float] = defaultdict(float)
    wall, cpu, server = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    for key, event in articles:
        enrichment = enrich_timed(pkg, event, times)
        if keep is not None:
            keep[key] = enrichment
    wall, cpu, server = time.perf_counter() - wall, time.process_time() - cpu, cpu_seconds(server_pid) - server
    n = len(articles)
    return {"seconds": round(wall, 3), "articles_per_s": round(n / wall, 2),
            "cpu_ms_per_article": {"enrich_process": round(1000 * cpu / n, 1), "corenlp_server": round(1000 * server / n, 1),
                                   "total": round(1000 * (cpu + server) / n, 1)},
            "articles_per_cpu_s": round(n / (cpu + server), 2), "times": dict(times)}


def summarise(passes: list[dict], n: int) -> dict:
    """The median pass (by wall time) with the shares of its components, and the spread."""
    median = sorted(passes, key=lambda p: p["seconds"])[len(passes) // 2]
    times = median["times"]
    total = sum(times.values())
    return {
        "articles_per_s": median["articles_per_s"], "seconds": median["seconds"],
        "articles_per_cpu_s": statistics.median(p["articles_per_cpu_s"] for p in passes),
        "cpu_ms_per_article": median["cpu_ms_per_article"],
        "passes_articles_per_s": [p["articles_per_s"] for p in passes],
        "passes_articles_per_cpu_s": [p["articles_per_cpu_s"] for p in passes],
        "share": {k: round(t / total, 3) for k, t in sorted(times.items(), key=lambda kv: -kv[1])},
        "ms_per_article": {k: round(1000 * t / n, 2) for k, t in sorted(times.items(), key=lambda kv: -kv[1])},
    }


def agreement(old: dict[str, dict], new: dict[str, dict]) -> dict:
    """How far the new enrichment says what the old said, article by article."""
    keys = sorted(set(old) & set(new))
    fields = ("persons", "organizations", "locations")
    same_entities = sum(all(old[k]["entities"][f] == new[k]["entities"][f] for f in fields) for k in keys)
    overlaps = [len({p.lower() for p in old[k]["keywords"]} & {p.lower() for p in new[k]["keywords"]}) / max(1, len(old[k]["keywords"]))
                for k in keys]
    cosines = [float(np.dot(old[k]["embedding"], new[k]["embedding"])) for k in keys if old[k].get("embedding") and new[k].get("embedding")]
    return {"articles": len(keys), "entities_identical": same_entities,
            "keywords_top10_overlap": round(statistics.fmean(overlaps), 4),
            "keywords_identical_sets": sum({p.lower() for p in old[k]["keywords"]} == {p.lower() for p in new[k]["keywords"]} for k in keys),
            "topic_same": sum(old[k]["topic"] == new[k]["topic"] for k in keys),
            "embedding_cosine_min": round(min(cosines), 6) if cosines else None}


def germeval(pkgs: list[SimpleNamespace]) -> dict:
    """Entity F1 on the GermEval 2014 news dev documents, by the shared scorer's own rules."""
    spec = importlib.util.spec_from_file_location("germeval_score", GERMEVAL_SCORER)
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    docs = score.load(GERMEVAL_SCORER.with_name("germeval2014-dev.tsv"), True)
    out = {}
    for pkg in pkgs:
        started = time.perf_counter()
        counts = count(score, docs, lambda text, pkg=pkg: pkg.entities.extract_entities(text, "de"))
        result = {"all": score.prf(*(sum(c[i] for c in counts.values()) for i in range(4)))}
        result.update({t: {k: v for k, v in score.prf(*c).items() if k in ("P", "R", "F1")} for t, c in counts.items()})
        result["documents"], result["seconds"] = len(docs), round(time.perf_counter() - started, 1)
        out[pkg.label] = result
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--from-html", action="store_true", help="bodies from newsflow.parse.extract, not ground truth")
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision whose enrich() is the baseline")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (old, new) passes, order alternated")
    parser.add_argument("--no-quality", action="store_true", help="skip the GermEval entity scores")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--warm-passes", type=int, default=1, help="untimed passes over every article per side before the rounds")
    parser.add_argument("--baseline-corenlp-url", help="a CoreNLP server started as the baseline commit starts it, for the baseline's passes")
    parser.add_argument("--baseline-corenlp-pid", type=int, help="that server's pid, for its CPU time")
    args = parser.parse_args()
    started = run_started()

    ensure_corenlp()
    server_pid = corenlp_pid()
    baseline_pid = server_pid
    if args.baseline_corenlp_url:
        if not args.baseline_corenlp_pid:
            parser.error("--baseline-corenlp-url needs --baseline-corenlp-pid")
        baseline_pid = args.baseline_corenlp_pid
    articles = [(key, parsed_event(key, text)) for key, text in load_articles(args.pages, args.from_html)]
    with tempfile.TemporaryDirectory(prefix="enrich-baseline-") as tmp:
        old = load_baseline(args.baseline, Path(tmp))
        new = _package("newsflow", "current")
        if args.baseline_corenlp_url:
            use_server(old, args.baseline_corenlp_url.rstrip("/"))
        pids = {"baseline": baseline_pid, "current": server_pid}
        warm_up = {}
        for pkg in (old, new):  # loads YAKE, langid, the embedding model, the regexes; warms the server
            t = time.perf_counter()
            for _, event in articles[:3]:
                enrich_timed(pkg, event, defaultdict(float))
            warm_up[pkg.label] = round(time.perf_counter() - t, 3)
        # Untimed passes over every article, so both servers' JIT compilers have done the bulk
        # of their work (CoreNLP's C2 thread spends seconds of CPU on its first few hundred
        # texts) and the rounds measure each side as a long-running service runs.
        for _ in range(args.warm_passes):
            for pkg in (old, new):
                for _, event in articles:
                    enrich_timed(pkg, event, defaultdict(float))
        passes: dict[str, list[dict]] = {"baseline": [], "current": []}
        outputs: dict[str, dict] = {"baseline": {}, "current": {}}
        rounds = []
        for r in range(max(1, args.rounds)):
            order = (("baseline", old), ("current", new)) if r % 2 == 0 else (("current", new), ("baseline", old))
            for name, pkg in order:
                passes[name].append(one_pass(pkg, articles, pids[name], outputs[name] if r == 0 else None))
            b, c = passes["baseline"][-1], passes["current"][-1]
            rounds.append({"round": r + 1, "order": [name for name, _ in order],
                           "baseline_articles_per_s": b["articles_per_s"], "current_articles_per_s": c["articles_per_s"],
                           "ratio_wall": round(c["articles_per_s"] / b["articles_per_s"], 3),
                           "baseline_articles_per_cpu_s": b["articles_per_cpu_s"], "current_articles_per_cpu_s": c["articles_per_cpu_s"],
                           "ratio_per_core": round(c["articles_per_cpu_s"] / b["articles_per_cpu_s"], 3)})
            print(json.dumps(rounds[-1]), flush=True)
        quality = {"seed": {"baseline": seed_figures(old.entities.extract_entities),
                            "current": seed_figures(new.entities.extract_entities)},
                   "agreement_with_baseline": agreement(outputs["baseline"], outputs["current"])}
        if not args.no_quality and GERMEVAL_SCORER.exists():
            quality["germeval_news_dev"] = germeval([old, new])

    ratios_core = [r["ratio_per_core"] for r in rounds]
    ratios_wall = [r["ratio_wall"] for r in rounds]
    chars = sum(len(event["payload"]["text"]) for _, event in articles)
    languages: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    for enrichment in outputs["current"].values():
        languages[enrichment["language"]["code"] or "und"] += 1
        for component in enrichment["errors"]:
            errors[component] += 1
    figures = {
        "benchmark": "enrich", "articles": len(articles), "characters": chars,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])), "component_errors": dict(errors),
        "baseline_rev": args.baseline, "corenlp_server_cpu_measured": server_pid is not None and baseline_pid is not None,
        "corenlp_servers": {"current": corenlp.server_url(), "baseline": args.baseline_corenlp_url or corenlp.server_url(),
                            "baseline_own_server": bool(args.baseline_corenlp_url)},
        "ratio_per_core": statistics.median(ratios_core), "ratio_per_core_range": [min(ratios_core), max(ratios_core)],
        "ratio_wall": statistics.median(ratios_wall), "ratio_wall_range": [min(ratios_wall), max(ratios_wall)],
        "target_ratio_per_core": 3.0,
        "current": summarise(passes["current"], len(articles)), "baseline": summarise(passes["baseline"], len(articles)),
        "first_articles_s": warm_up, "warm_passes": args.warm_passes, "rounds": rounds, "quality": quality,
        "embedding_model": embedding.model_name(),
    }
    if args.out:
        write_result(args.out, figures, started)
    print(json.dumps({k: figures[k] for k in ("ratio_per_core", "ratio_per_core_range", "ratio_wall", "ratio_wall_range")}))
    for name in ("baseline", "current"):
        f = figures[name]
        print(f"{name:9s} {f['articles_per_s']:6.2f} articles/s, {f['articles_per_cpu_s']:6.2f} per CPU-second; cpu ms/article {f['cpu_ms_per_article']}")
        for component, share in f["share"].items():
            print(f"    {component:24s} {share:6.1%}  {f['ms_per_article'][component]:8.2f} ms/article")
    print(json.dumps(quality, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
