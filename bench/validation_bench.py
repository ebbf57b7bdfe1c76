"""Event validation: the compiled validator (jsonschema-rs, services/core/schemas.py) against the
pure-Python `jsonschema` the stages used before, on the events one article makes on its way.

Every stage validates what it reads (decode) and what it writes (encode), so an article meets
its request twice, its raw page twice, its parsed event twice and its enriched event four times
(enrich writes it, the clustering agent reads and writes it, the index stage reads it). The events
are real ones: generated article pages (tests/articlesite.py) through the real fetch, parse and
enrich functions (the enrich one needs the CoreNLP server). Both validators get the same events
and schemas, rounds alternate their order, and both must agree on every event and on a set of
broken ones.

The old library is no dependency any more: the bench installs it from PyPI into a folder of its
own (--old-lib, default .var/bench/jsonschema-4.26.0) the first time.
    .venv/bin/python bench/validation_bench.py --out bench/results/validation.json
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import run_started, write_result  # noqa: E402

from newsflow.core.envelope import make_event, utc_now  # noqa: E402
from newsflow.core.ids import article_id, new_trace_id  # noqa: E402
from newsflow.core.schemas import SCHEMAS_DIR, SchemaError, schema_file, validate  # noqa: E402
from newsflow.core.settings import Settings  # noqa: E402
from newsflow.enrich.stage import enrich  # noqa: E402
from newsflow.fetch.fetcher import FetchedPage, raw_event  # noqa: E402
from newsflow.parse.stage import parse  # noqa: E402
from tests.articlesite import article_html  # noqa: E402

# how many times one article's events are validated on the way through the services
PER_ARTICLE = {"news.fetch.request/1": 2, "news.raw/1": 2, "news.parsed/1": 2, "news.enriched/1": 4}


def article_events(n: int, settings: Settings) -> dict[str, dict]:
    url = f"http://bench.example/articles/{n}.html"
    request = make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                         {"url": url, "source": "bench", "requested_at": utc_now()}, "bench")
    page = FetchedPage(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                       body=article_html(n), fetched_at=utc_now(), elapsed_ms=1.0)
    raw = raw_event(request, page, settings)
    parsed = parse(raw)
    return {"news.fetch.request/1": request, "news.raw/1": raw, "news.parsed/1": parsed, "news.enriched/1": enrich(parsed)}


OLD = "jsonschema==4.26.0"


def old_validator(lib: Path):
    """The validation code of services/core/schemas.py before this change, on the old library."""
    if not (lib / "jsonschema").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(lib), OLD], check=True)
    sys.path.insert(0, str(lib))
    from jsonschema import Draft202012Validator, FormatChecker, __version__
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        [(p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS_DIR.glob("*.json")])
    validators = {}

    def check(event: dict, schema_name: str) -> None:
        if schema_name not in validators:
            validators[schema_name] = Draft202012Validator(json.loads(schema_file(schema_name).read_text()),
                                                           registry=registry, format_checker=FormatChecker())
        errors = sorted(validators[schema_name].iter_errors(event), key=lambda e: list(e.absolute_path))
        if errors:
            raise SchemaError(errors[0].message)

    return check, __version__


def broken(events: list[dict[str, dict]]) -> list[tuple[dict, str]]:
    """Events each validator must refuse: a wrong type, a missing field, a bad id."""
    out = []
    for per_schema in events[:5]:
        for schema, event in per_schema.items():
            for mutate in (lambda e: e.pop("trace_id"), lambda e: e.__setitem__("id", "x"),
                           lambda e: e["payload"].__setitem__("url", 42)):
                bad = copy.deepcopy(event)
                mutate(bad)
                out.append((bad, schema))
    return out


def refused(check, event: dict, schema: str) -> bool:
    try:
        check(event, schema)
        return False
    except SchemaError:
        return True


def time_round(check, events: list[dict[str, dict]]) -> dict[str, float]:
    """Microseconds per validation, per schema."""
    out = {}
    for schema in PER_ARTICLE:
        started = time.perf_counter()
        for per_schema in events:
            check(per_schema[schema], schema)
        out[schema] = (time.perf_counter() - started) / len(events) * 1e6
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--old-lib", type=Path, default=REPO / ".var" / "bench" / "jsonschema-4.26.0",
                    help=f"folder with {OLD} installed (pip --target); installed there when missing")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    started = run_started()

    settings = Settings()
    events = [article_events(n, settings) for n in range(args.articles)]
    old, old_version = old_validator(args.old_lib)
    new = validate
    for check in (old, new):  # both accept every real event and refuse every broken one
        for per_schema in events:
            for schema, event in per_schema.items():
                check(event, schema)
        assert all(refused(check, bad, schema) for bad, schema in broken(events))

    rounds = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
            rounds[name].append(time_round(old if name == "old" else new, events))

    def per_article(result: dict[str, float]) -> float:
        return sum(result[s] * times for s, times in PER_ARTICLE.items()) / 1000

    summary = {}
    for name, results in rounds.items():
        summary[name] = {
            "ms_per_article_median": round(statistics.median(per_article(r) for r in results), 3),
            "ms_per_article_rounds": [round(per_article(r), 3) for r in results],
            "us_per_validation_median": {s: round(statistics.median(r[s] for r in results), 1) for s in PER_ARTICLE},
        }
    ratios = [per_article(o) / per_article(n) for o, n in zip(rounds["old"], rounds["new"])]
    report = {
        "what": "CPU time of validating one article's events through the services (decode and encode at each stage)",
        "articles": args.articles, "validations_per_article": PER_ARTICLE,
        "old": {"library": f"jsonschema {old_version} (pure Python)"} | summary["old"],
        "new": {"library": "jsonschema-rs (services/core/schemas.py)"} | summary["new"],
        "speedup_median": round(statistics.median(ratios), 1),
        "speedup_rounds": [round(x, 1) for x in ratios],
        "agree_on_broken_events": len(broken(events)),
    }
    if args.out:
        write_result(Path(args.out), report, started=started)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
