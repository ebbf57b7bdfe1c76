"""The article language parse gives a page (services/parse/language.py: the text's language when
long and sure enough, else the page's declaration), with fastText (core/language.py, what enrich
uses too) against py3langid (what parse used before), on every page of the two development sets
(../shared/benchmarks: article-extraction's 88 pages and the dates set's 799).

There is no gold language per page. What is reported: how often the two agree; how often each
leaves a page undetermined; and, on the pages that declare a language (<html lang>,
Content-Language, og:locale, JSON-LD), how often each decision matches the declaration, which
templates sometimes get wrong, so it is a proxy, not a score. Disagreements are listed with the
title, to be read.

    .venv/bin/python bench/page_language_bench.py --out bench/results/page-language.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from language_bench import py3langid_classify  # noqa: E402
from record import run_started, write_result  # noqa: E402

from newsflow.parse.extract import ExtractionError, _markup, extract_article  # noqa: E402
from newsflow.parse.jsonld import article_node, jsonld_nodes  # noqa: E402
from newsflow.parse.language import SAMPLE_CHARS, declared_language, language_code, page_language  # noqa: E402
from newsflow.parse.dom import parse_html  # noqa: E402

SETS = [REPO.parent / "shared" / "benchmarks" / name / "html" for name in ("article-extraction", "dates")]


def py3langid_identify():
    """parse's identify_text as it was, on py3langid (language_bench's loading of it)."""
    classify = py3langid_classify()

    def identify(text: str) -> tuple[str | None, float]:
        sample = text[:SAMPLE_CHARS]
        if not sample.strip():
            return None, 0.0
        language, confidence = classify(sample)
        return language_code(language), float(confidence)

    return identify


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    started = run_started()
    old_identify = py3langid_identify()
    rows, refused = [], 0
    for folder in SETS:
        for path in sorted(folder.glob("*.html*")):
            html = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            try:
                article = extract_article(html, None)
            except ExtractionError:
                refused += 1
                continue
            tree = parse_html(_markup(html, None))
            text = article.get("text") or article.get("title") or ""
            node = article_node(jsonld_nodes(tree))
            rows.append({"page": f"{folder.parent.name}/{path.name[:16]}", "title": (article.get("title") or "")[:80],
                         "declared": declared_language(tree, node), "new": article["language"],
                         "old": page_language(tree, text, node, identify=old_identify)})
    declared = [r for r in rows if r["declared"]]
    report = {
        "pages": len(rows), "no_article": refused,
        "agree": sum(r["old"] == r["new"] for r in rows),
        "undetermined": {"py3langid": sum(r["old"] is None for r in rows), "fastText": sum(r["new"] is None for r in rows)},
        "pages_declaring": len(declared),
        "matches_declaration": {"py3langid": sum(r["old"] == r["declared"] for r in declared),
                                "fastText": sum(r["new"] == r["declared"] for r in declared)},
        "languages": {"py3langid": Counter(r["old"] for r in rows).most_common(12),
                      "fastText": Counter(r["new"] for r in rows).most_common(12)},
        "disagreements": [r for r in rows if r["old"] != r["new"]],
    }
    if args.out:
        write_result(Path(args.out), report, started=started)
    print(json.dumps({k: v for k, v in report.items() if k != "disagreements"}, indent=1))
    for r in report["disagreements"]:
        print(f"  declared {r['declared']!s:5} py3langid {r['old']!s:5} fastText {r['new']!s:5} {r['title']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
