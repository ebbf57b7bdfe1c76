"""The `newsflow` command line: extract, submit, status, and serve (run one service)."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
from pathlib import Path

import orjson

SERVICES = ("fetch", "parse", "enrich", "index", "search")


def cmd_extract(args) -> int:
    """Parse saved HTML files offline with exactly the parse service's code; with --enrich, run
    the enrich stage's function on the result too (it asks the local CoreNLP server)."""
    from .parse.extract import ExtractionError, extract_article

    status = 0
    for name in args.files:
        data = Path(name).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            if args.enrich:
                article = {"file": name, **_extract_enriched(data, args.url or Path(name).resolve().as_uri())}
            else:
                article = {"file": name, **extract_article(data, args.url)}
        except Exception as exc:  # noqa: BLE001 - one bad file is reported, the others go on
            if not isinstance(exc, ExtractionError) and not args.enrich:
                raise
            article, status = {"file": name, "error": type(exc).__name__, "reason": str(exc)}, 1
        sys.stdout.buffer.write(orjson.dumps(article) + b"\n")
    return status


def _extract_enriched(html: bytes, url: str) -> dict:
    """The file as the services see it: a news.raw event through parse() and enrich(). The
    cluster id is the provisional one (no stream here to compare with)."""
    from .core.body import encode_body
    from .core.envelope import make_event, utc_now
    from .core.ids import article_id, new_trace_id
    from .enrich.stage import enrich
    from .parse.stage import parse

    body, compression = encode_body(html, compress_over=1 << 62)
    page = {"url": url, "final_url": url, "status": 200, "headers": {}, "content_type": "text/html",
            "charset_hint": None, "fetched_at": utc_now(), "elapsed_ms": 0.0, "source": "cli", "body": body,
            "body_compression": compression, "body_size": len(html), "attempts": 1}
    enriched = enrich(parse(make_event("news.raw/1", article_id(url), new_trace_id(), page, "cli")))
    return {"id": enriched["id"], **enriched["payload"]}


async def _submit(urls: list[str], source: str | None) -> list[str]:
    from .core.envelope import encode, make_event, utc_now
    from .core.ids import article_id, new_trace_id
    from .core.kafka import producer
    from .core.settings import get_settings

    settings = get_settings()
    ids = []
    async with producer(settings) as send:
        for url in urls:
            event = make_event("news.fetch.request/1", article_id(url), new_trace_id(),
                               {"url": url, "source": source, "requested_at": utc_now()}, "cli")
            await send(settings.topic("news.fetch.requests"), event["id"].encode(), encode(event, "news.fetch.request/1"))
            ids.append(event["id"])
    return ids


async def _submit_discovered(kind: str, url: str, source: str | None):
    """Read a feed or sitemap once and request its entries not submitted before (the same
    record of submitted URLs as the fetch service's poller)."""
    from .core.kafka import producer
    from .core.settings import get_settings
    from .fetch.client import Fetcher
    from .fetch.discovery import discover
    from .fetch.poller import submit_new
    from .fetch.seen import SeenLog

    settings = get_settings()
    fetcher = Fetcher(settings)
    try:
        found = await discover(fetcher, url, kind, max_urls=settings.discovery_max_urls)
    finally:
        await fetcher.aclose()
    async with SeenLog(settings) as seen, producer(settings) as send:
        fresh = await submit_new(found, seen, send, settings, "cli", source)
    return found, fresh


def _cmd_discover(args) -> int:
    from .core.logs import configure_logging
    from .fetch.errors import FetchFailed

    configure_logging("warning", "cli")  # stdout carries only the submitted URLs
    status = 0
    for kind, url in (("feed", args.feed), ("sitemap", args.sitemap)):
        if not url:
            continue
        try:
            found, fresh = asyncio.run(_submit_discovered(kind, url, None if args.source == "cli" else args.source))
        except FetchFailed as exc:
            print(f"newsflow submit: {kind} {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 1
            continue
        for article, entry in fresh:
            print(f"{article}  {entry}")
        for error in found.errors:
            print(f"newsflow submit: {kind} {url}: skipped {error}", file=sys.stderr)
        print(f"{kind} {url}: {len(found.urls)} article URLs, {len(fresh)} new, "
              f"{len(found.urls) - len(fresh)} already submitted", file=sys.stderr)
    return status


def cmd_submit(args) -> int:
    urls = list(args.urls)
    if args.feed or args.sitemap:
        status = _cmd_discover(args)
        if not urls:
            return status
    if not urls:
        print("newsflow submit: give at least one URL", file=sys.stderr)
        return 2
    for url, article in zip(urls, asyncio.run(_submit(urls, args.source))):
        print(f"{article}  {url}")
    return 0


def cmd_status(args) -> int:
    from .core.kafka import pipeline_status
    from .core.settings import get_settings

    rows = asyncio.run(pipeline_status(get_settings()))
    if args.json:
        print(orjson.dumps(rows).decode())
        return 0
    print(f"{'stage':8} {'input topic':24} {'messages':>9} {'committed':>9} {'lag':>6}")
    for row in rows["stages"]:
        print(f"{row['stage']:8} {row['topic']:24} {row['messages']:>9} {row['committed']:>9} {row['lag']:>6}")
    print(f"dead letters: {rows['dead_letters']}   documents in '{rows['index']}': {rows['documents']}")
    return 0


def _quiet_logs() -> None:
    """Commands that show a progress bar log only warnings, as JSON like the services."""
    from .core.logs import configure_logging

    configure_logging("warning", "cli")


def cmd_replay(args) -> int:
    from .core.settings import get_settings
    from .replay.positions import parse_position
    from .replay.runner import replay

    _quiet_logs()
    report = asyncio.run(replay(args.topic, get_settings(), start=parse_position(args.start),
                                stop=parse_position(args.stop), show_progress=not args.quiet))
    print(f"replayed {report.read} events of {report.topic} (group {report.group}): "
          f"{report.written} written, {report.dead_letters} dead letters")
    return 0


async def _month_partitioned(settings) -> bool:
    from .core.es import es_client
    from .index.placement import month_layout

    async with es_client(settings) as es:
        return await month_layout(es, settings.index_alias) is not None


def cmd_reindex(args) -> int:
    from .core.settings import get_settings
    from .replay.reindex import reindex

    _quiet_logs()
    if asyncio.run(_month_partitioned(get_settings())):
        print("newsflow reindex: the alias is partitioned by month, which the reindex does not build yet "
              "(README: Reindexing with months)", file=sys.stderr)
        return 2
    report = asyncio.run(reindex(get_settings(), args.source, show_progress=not args.quiet))
    print(f"reindexed {report.indexed} documents from {report.source} into {report.new_index} "
          f"({report.caught_up} caught up, {report.skipped} skipped); alias now on {report.new_index}, "
          f"{report.old_index} kept (delete it with: curl -XDELETE {get_settings().elasticsearch_url}/{report.old_index})")
    return 0


def cmd_indices(args) -> int:
    """List the physical indices behind the alias, or drop month indices older than a cutoff."""
    from datetime import datetime, timezone

    from .core.es import es_client
    from .core.indices import cutoff_month
    from .core.settings import get_settings
    from .index.retention import drop_months, list_indices

    settings = get_settings()
    if args.action == "drop" and not (args.before or args.keep_months):
        print("newsflow indices drop: give --before YYYY.MM or --keep-months N", file=sys.stderr)
        return 2

    async def run():
        async with es_client(settings) as es:
            if args.action == "list":
                return await list_indices(es, settings.index_alias)
            before = args.before or cutoff_month(datetime.now(timezone.utc).date(), args.keep_months)
            return before, await drop_months(es, settings.index_alias, before, apply=args.yes)

    if args.action == "list":
        rows = asyncio.run(run())
        print(f"{'index':36} {'alias':5} {'documents':>10} {'MB':>9}")
        for row in rows:
            print(f"{row.name:36} {'yes' if row.in_alias else 'no':5} {row.documents:>10} {row.bytes / 1e6:>9.1f}")
        return 0
    try:
        before, names = asyncio.run(run())
    except ValueError as exc:  # a month not written YYYY.MM, or nothing to keep
        print(f"newsflow indices drop: {exc}", file=sys.stderr)
        return 2
    verb = "dropped" if args.yes else "would drop (add --yes to delete)"
    print(f"{verb} {len(names)} month indices before {before}" + "".join(f"\n  {n}" for n in names))
    return 0


def cmd_serve(args) -> int:
    import importlib

    module = importlib.import_module(f"newsflow.{args.service}.{'api' if args.service == 'search' else 'app'}")
    module.main()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="parse saved HTML files (gzip accepted), one JSON line per file")
    p.add_argument("files", nargs="+")
    p.add_argument("--url", help="the URL the page was fetched from")
    p.add_argument("--enrich", action="store_true",
                   help="also enrich (entities, money, keywords, topic, embedding...; needs infra/corenlp/corenlp.sh up)")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("submit", help="request fetching of URLs")
    p.add_argument("urls", nargs="*")
    p.add_argument("--feed", help="an RSS/Atom feed whose entries to fetch")
    p.add_argument("--sitemap", help="a sitemap whose URLs to fetch")
    p.add_argument("--source", default="cli", help="recorded as the requests' source")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("status", help="per-stage counts and consumer lag")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("replay", help="re-drive a topic range through its stage (own consumer group)")
    p.add_argument("--topic", required=True, choices=("news.raw", "news.parsed", "news.enriched"))
    p.add_argument("--from", dest="start", help="offset (every partition) or ISO time; default: the beginning")
    p.add_argument("--to", dest="stop", help="offset or ISO time, exclusive; default: the current end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("reindex", help="build the next articles-vN from a topic and swap the alias")
    p.add_argument("--from-topic", dest="source", default="news.enriched", choices=("news.enriched", "news.raw"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("indices", help="list the physical indices behind the alias, or drop old months (retention)")
    p.add_argument("action", choices=("list", "drop"))
    p.add_argument("--before", help="drop: the month indices of months before this one (YYYY.MM)")
    p.add_argument("--keep-months", type=int, help="drop: keep this many months, the current one included")
    p.add_argument("--yes", action="store_true", help="drop: really delete (without it, only say what would go)")
    p.set_defaults(func=cmd_indices)

    p = sub.add_parser("serve", help="run one service in the foreground")
    p.add_argument("service", choices=SERVICES)
    p.set_defaults(func=cmd_serve)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
