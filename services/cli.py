"""The `newsflow` command line: extract, submit, status, replay, reindex, dlq, and serve (run
one service). Bad input and unreachable servers get one line on stderr and a non-zero exit,
never a traceback (`newsflow --traceback ...` shows it)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from .clierrors import CliError, explain, read_page, url_problem

SERVICES = ("fetch", "parse", "enrich", "index", "search")


def cmd_extract(args) -> int:
    """Parse saved HTML files offline with exactly the parse service's code; with --enrich, run
    the enrich stage's function on the result too (it asks the local CoreNLP server)."""
    from .parse.extract import ExtractionError, extract_article

    if args.enrich:
        _check_corenlp()
    status = 0
    for name in args.files:
        try:
            data = read_page(_read_file(name), name)
        except CliError as exc:
            _complain("extract", str(exc))
            sys.stdout.buffer.write(orjson.dumps({"file": name, "error": "UnreadableFile", "reason": str(exc)}) + b"\n")
            status = 1
            continue
        try:
            if args.enrich:
                article = {"file": name, **_extract_enriched(data, args.url or Path(name).resolve().as_uri())}
            else:
                article = {"file": name, **extract_article(data, args.url)}
        except Exception as exc:  # noqa: BLE001 - one bad file is reported, the others go on
            if not isinstance(exc, ExtractionError) and not args.enrich:
                raise
            article, status = {"file": name, "error": type(exc).__name__, "reason": str(exc)}, 1
            _complain("extract", f"{name}: no article extracted ({type(exc).__name__}: {exc})")
        sys.stdout.buffer.write(orjson.dumps(article) + b"\n")
    return status


def _read_file(name: str) -> bytes:
    path = Path(name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise CliError(f"{name}: permission denied") from None
    except OSError as exc:
        raise CliError(f"{name}: cannot be read ({exc.strerror or exc})") from None


def _check_corenlp() -> None:
    """--enrich needs the CoreNLP server: say so at once when it does not answer, rather than
    give articles without entities."""
    import httpx

    from .core.settings import get_settings

    url = get_settings().corenlp_url
    try:
        answer = httpx.get(f"{url}/live", timeout=3.0)
    except httpx.HTTPError as exc:
        raise CliError(f"--enrich needs the CoreNLP server at {url}, which is unreachable ({type(exc).__name__}); "
                       "start it with infra/corenlp/corenlp.sh up, or set NEWSFLOW_CORENLP_URL") from None
    if answer.status_code != 200:
        raise CliError(f"--enrich needs the CoreNLP server at {url}, which answered {answer.status_code}")


def _complain(command: str, message: str) -> None:
    print(f"newsflow {command}: {message}", file=sys.stderr)


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
    from .fetch.errors import FetchFailed

    # (logs are warnings only, on stderr, as for every command: stdout carries only the submitted URLs)
    status = 0
    for kind, url in (("feed", args.feed), ("sitemap", args.sitemap)):
        if not url:
            continue
        try:
            found, fresh = asyncio.run(_submit_discovered(kind, url, None if args.source == "cli" else args.source))
        except FetchFailed as exc:
            _complain("submit", f"{kind} {url}: {type(exc).__name__}: {exc}")
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
    for url in (*urls, *(u for u in (args.feed, args.sitemap) if u)):
        problem = url_problem(url)
        if problem:
            raise CliError(f"{url!r}: {problem}", status=2)
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

    from .stages import STAGE_INPUTS

    rows = asyncio.run(pipeline_status(get_settings(), STAGE_INPUTS))
    if args.json:
        print(orjson.dumps(rows).decode())
    else:
        print(f"{'stage':8} {'input topic':24} {'messages':>9} {'committed':>9} {'lag':>6}")
        for row in rows["stages"]:
            print(f"{row['stage']:8} {row['topic']:24} {row['messages']:>9} {row['committed']:>9} {row['lag']:>6}")
        documents = rows["documents"] if rows["documents"] is not None else ("unknown" if rows["elasticsearch_error"] else "no index yet")
        print(f"dead letters: {rows['dead_letters']}   documents in '{rows['index']}': {documents}")
    if rows["elasticsearch_error"]:
        _complain("status", rows["elasticsearch_error"])
        return 1
    return 0


def _quiet_logs() -> None:
    """Every command but `serve` logs only warnings, as JSON like the services; the client
    libraries' own complaints about a missing server are left to the one line `main` prints."""
    import logging

    from .core.logs import configure_logging

    configure_logging("warning", "cli")
    for name in ("aiokafka", "kafka", "elastic_transport", "elasticsearch", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def cmd_replay(args) -> int:
    from .core.settings import get_settings
    from .replay.positions import parse_position
    from .replay.runner import replay

    try:
        start, stop = parse_position(args.start), parse_position(args.stop)
    except ValueError as exc:
        raise CliError(f"--from/--to: {exc}", status=2) from None
    report = asyncio.run(replay(args.topic, get_settings(), start=start, stop=stop, show_progress=not args.quiet))
    print(f"replayed {report.read} events of {report.topic} (group {report.group}): "
          f"{report.written} written, {report.dead_letters} dead letters")
    return 0


async def _require_kafka(settings) -> None:
    """Raises aiokafka's KafkaConnectionError at once when no broker answers."""
    from .core.kafka import admin_client

    admin = admin_client(settings)
    await admin.start()
    await admin.close()


def cmd_reindex(args) -> int:
    from .core.settings import get_settings
    from .replay.reindex import reindex

    # Kafka first: the new index is made before the topic is read, and should not be left empty.
    asyncio.run(_require_kafka(get_settings()))
    report = asyncio.run(reindex(get_settings(), args.source, show_progress=not args.quiet))
    print(f"reindexed {report.indexed} documents from {report.source} into {report.new_index} "
          f"({report.caught_up} caught up, {report.skipped} skipped); alias now on {report.new_index}, "
          f"{report.old_index} kept (delete it with: curl -XDELETE {get_settings().elasticsearch_url}/"
          f"{','.join(report.old_indices) or report.old_index})")
    return 0


# --- newsflow dlq ---------------------------------------------------------------------------------

def _selection(args):
    from .dlq.letters import SelectionError, make_selection

    try:
        return make_selection(stages=args.stage, errors=args.error, since=args.since, until=args.until, ids=args.id)
    except SelectionError as exc:
        raise CliError(str(exc), status=2) from None


def _dlq_snapshot():
    from .core.settings import get_settings
    from .dlq.redrive import snapshot

    return asyncio.run(snapshot(get_settings()))


def cmd_dlq_list(args) -> int:
    selection = _selection(args)
    found = _dlq_snapshot()
    letters = [letter for letter in found.letters if selection.matches(letter)]
    shown = letters[-args.limit:] if args.limit else letters
    if args.json:
        for letter in shown:
            print(orjson.dumps(_row(letter, found.redriven, found.claimed)).decode())
    else:
        print(f"{'id':>8}  {'failed at':20}  {'stage':6} {'error':24} {'article':32} {'redriven':8}  reason")
        for letter in shown:
            row = _row(letter, found.redriven, found.claimed)
            state = "yes" if row["redriven"] else "claimed" if row["claimed"] else "no"
            print(f"{row['id']:>8}  {row['failed_at']:20}  {row['stage']:6} {row['error'][:24]:24} {row['article']:32} "
                  f"{state:8}  {row['reason'][:100]}")
    if len(shown) < len(letters):
        print(f"({len(letters) - len(shown)} earlier dead letters not shown: --limit 0 shows all)", file=sys.stderr)
    _say_unreadable(found)
    return 0


def _row(letter, redriven, claimed=frozenset()) -> dict:
    from .dlq.letters import iso_utc

    return {"id": letter.position, "failed_at": iso_utc(letter.failed_at), "stage": letter.stage, "error": letter.error,
            "article": letter.letter_id, "redriven": letter.position in redriven, "claimed": letter.position in claimed,
            "topic": letter.topic,
            "reason": " ".join(letter.reason.split())}


def cmd_dlq_count(args) -> int:
    from .dlq.letters import count_groups

    selection = _selection(args)
    found = _dlq_snapshot()
    rows = count_groups([letter for letter in found.letters if selection.matches(letter)], found.redriven, args.per)
    if args.json:
        print(orjson.dumps({"groups": rows, "total": sum(r["count"] for r in rows), "unreadable": found.unreadable}).decode())
        return 0
    when = f"{args.per:17} " if args.per else ""
    print(f"{when}{'stage':6} {'error':28} {'count':>7} {'redriven':>8}  {'first':20}  last")
    for row in rows:
        when = f"{row[args.per]:17} " if args.per else ""
        print(f"{when}{row['stage']:6} {row['error'][:28]:28} {row['count']:>7} {row['redriven']:>8}  {row['first']:20}  {row['last']}")
    print(f"total: {sum(r['count'] for r in rows)} dead letters, {sum(r['redriven'] for r in rows)} redriven")
    _say_unreadable(found)
    return 0


def _say_unreadable(found) -> None:
    if found.unreadable:
        print(f"({found.unreadable} records on the dead-letter topic are not news.dlq/1 dead letters; left out)", file=sys.stderr)


def cmd_dlq_show(args) -> int:
    from .dlq.letters import SelectionError, make_selection, shown

    try:
        selection = make_selection(ids=[args.letter])
    except SelectionError as exc:
        raise CliError(str(exc), status=2) from None
    found = _dlq_snapshot()
    letters = [letter for letter in found.letters if selection.matches(letter)]
    if not letters:
        raise CliError(f"no dead letter {args.letter} on the dead-letter topic "
                       "(ids are partition:offset as `newsflow dlq list` shows them, or an article id)")
    for letter in letters:
        marker = found.markers.get(letter.position) if letter.position in found.redriven else None
        print(orjson.dumps(shown(letter, marker, with_body=args.body), option=orjson.OPT_INDENT_2).decode())
    return 0


def cmd_dlq_redrive(args) -> int:
    from .core.settings import get_settings
    from .dlq.redrive import RedriveFenced, redrive

    selection = _selection(args)
    if selection.is_everything() and not args.all:
        raise CliError("redrive which dead letters? give --stage, --error, --since, --until or --id, or --all", status=2)
    try:
        report = asyncio.run(redrive(get_settings(), selection, dry_run=args.dry_run, show_progress=not args.quiet))
    except RedriveFenced as exc:
        raise CliError(str(exc)) from None
    verb = "would redrive" if report.dry_run else "redrove"
    where = ", ".join(f"{n} to {topic}" for topic, n in sorted(report.sent.items())) or "none"
    claimed = f", {report.claimed} being sent by another redrive" if report.claimed else ""
    print(f"{verb} {report.total_sent} of {report.selected} selected dead letters ({where}); "
          f"{report.already} already redriven before, {report.unroutable} with no stage to go to{claimed}")
    return 0




def cmd_indices(args) -> int:
    """List the physical indices behind the alias, or drop month indices older than a cutoff."""
    from datetime import datetime, timezone

    from .core.es import es_client
    from .index.indices import cutoff_month
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

    from .core.memory import limit_malloc_arenas
    from .core.settings import get_settings

    limit_malloc_arenas(get_settings().malloc_arenas)  # before the service starts any thread
    module = importlib.import_module(f"newsflow.{args.service}.{'api' if args.service == 'search' else 'app'}")
    module.main()
    return 0


class _Parser(argparse.ArgumentParser):
    """Wrong arguments: one line naming the problem and where help is, exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_selection(p, what: str) -> None:
    p.add_argument("--stage", action="append", help=f"{what} of this stage (fetch, parse, enrich, index; repeatable)")
    p.add_argument("--error", action="append", help=f"{what} with this error, e.g. FetchFailed (repeatable)")
    p.add_argument("--since", help="failed at or after: ISO time (UTC unless given) or an age like 30m, 2h, 7d")
    p.add_argument("--until", help="failed before: ISO time or an age")
    p.add_argument("--id", action="append", help="a dead letter (partition:offset) or every letter of an article id (repeatable)")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="newsflow", description=__doc__)
    parser.add_argument("--traceback", action="store_true", help="on failure, show the Python traceback too")
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

    p = sub.add_parser("dlq", help="dead letters: list, count, show, redrive")
    dlq = p.add_subparsers(dest="dlq_command", required=True)
    q = dlq.add_parser("list", help="the selected dead letters, oldest first")
    _add_selection(q, "letters")
    q.add_argument("--limit", type=int, default=100, help="show only the last N (default 100; 0: all)")
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.set_defaults(func=cmd_dlq_list)
    q = dlq.add_parser("count", help="dead letters counted by stage and error")
    _add_selection(q, "count letters")
    q.add_argument("--per", choices=("hour", "day"), help="and by hour or day of failure")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_dlq_count)
    q = dlq.add_parser("show", help="one dead letter with its original event decoded")
    q.add_argument("letter", metavar="ID", help="partition:offset as `dlq list` shows, or an article id")
    q.add_argument("--body", action="store_true", help="also the page of a news.raw original, decompressed, as text")
    q.set_defaults(func=cmd_dlq_show)
    q = dlq.add_parser("redrive", help="send the selected dead letters back to their stage's input, once each")
    _add_selection(q, "redrive letters")
    q.add_argument("--all", action="store_true", help="every dead letter not redriven before (when no filter is given)")
    q.add_argument("--dry-run", action="store_true", help="count what would be sent, send nothing")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_dlq_redrive)

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
    command = " ".join(filter(None, (args.command, getattr(args, "dlq_command", None))))
    if args.command != "serve":  # a service configures its own logs
        _quiet_logs()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _complain(command, "interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is said in one line, not a traceback
        if args.traceback:
            raise
        from .core.settings import get_settings

        settings = get_settings()
        status = exc.status if isinstance(exc, CliError) else 1
        _complain(command, explain(exc, kafka=settings.kafka_bootstrap, elasticsearch=settings.elasticsearch_url))
        return status


if __name__ == "__main__":
    sys.exit(main())
