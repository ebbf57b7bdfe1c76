"""The fetch service: news.fetch.requests -> fetch the page -> news.raw (or news.dlq), and the
poller that turns the feeds and sitemaps of NEWSFLOW_SOURCES into fetch requests."""

import time

from faust.types import TP

from ..core.app import create_app, run_worker
from ..core.envelope import encode
from ..core.logs import get_logger
from ..core.settings import get_settings
from ..core.stage import Outgoing, StageSpec, attach_stage, send_acknowledged
from .client import Fetcher
from .errors import FetchFailed
from .fetcher import INPUT_SCHEMA, OUTPUT_SCHEMA, SERVICE, make_handler, stage_time_limit
from .poller import Poller
from .refetch import REMOVED_SCHEMA, REQUEST_SCHEMA, check_retention, due, parse_schedule, refetch_request
from .url_state import EsUrlState
from .seen import SeenLog, seen_topic
from .sources import load_sources
from ..core.topics import ensure_compacted_topic
from . import INPUT_TOPICS, WEB_PORT_OFFSET

(INPUT_TOPIC,) = INPUT_TOPICS
log = get_logger("newsflow.fetch.app")
settings = get_settings()
app = create_app(SERVICE, WEB_PORT_OFFSET, settings)

# A broken schedule, or a retention shorter than it, stops the service at start-up, loudly.
refetch_schedule = parse_schedule(settings.fetch_refetch_schedule)
check_retention(settings.fetch_url_state_retention_s, refetch_schedule, settings.fetch_refetch_after_s)
# Per-URL state (last fetch, its request, ETag / Last-Modified, the refetches made), keyed by
# the request's article id, in Elasticsearch (url_state.py): nothing of it is held here, so
# memory and start-up time do not grow with the URLs seen; it is forgotten after
# NEWSFLOW_FETCH_URL_STATE_RETENTION.
url_state = EsUrlState(settings, refetch_schedule)
# One fetcher for the stage and the poller, so both keep to the same per-host limits.
fetcher = Fetcher(settings)


async def send_removal(event: dict) -> None:
    """A takedown found by a refetch, for the index stage; acknowledged before the request is."""
    await send_acknowledged(app, Outgoing(settings.topic("news.removed"), event["id"].encode(),
                                          encode(event, REMOVED_SCHEMA), REMOVED_SCHEMA))

attach_stage(app, StageSpec(
    name=SERVICE, input_topic=INPUT_TOPIC, input_schema=INPUT_SCHEMA,
    output_topic="news.raw", output_schema=OUTPUT_SCHEMA, handle=make_handler(settings, url_state, fetcher, removed=send_removal),
    # Requests to different hosts proceed side by side; politeness is per host inside the fetcher.
    is_async=True, concurrency=max(1, settings.fetch_concurrency), time_limit_s=stage_time_limit(settings),
    expected_errors=(FetchFailed,),
), settings)

# A broken sources file stops the service at start-up, loudly.
sources = load_sources(settings.sources_file) if settings.sources_file else []


def _polls_here() -> bool:
    """With several fetch workers, the one holding partition 0 of the input polls."""
    try:
        return TP(settings.topic(INPUT_TOPIC), 0) in app.consumer.assignment()
    except Exception:  # noqa: BLE001 - consumer not started yet
        return False


@app.task
async def poll_sources() -> None:
    if not sources:
        return

    async def send(topic: str, key: bytes, value: bytes) -> None:
        await send_acknowledged(app, Outgoing(topic, key, value, INPUT_SCHEMA))

    seen = await SeenLog(settings).start()
    log.info("polling sources", sources=[s.label for s in sources], file=settings.sources_file)
    try:
        await Poller(sources, fetcher, seen, send, settings).run_forever(_polls_here)
    finally:
        await seen.stop()


_requested: dict[tuple[str, int], float] = {}  # (article id, refetch) -> when this worker sent it


@app.timer(max(1.0, settings.fetch_refetch_check_s))
async def request_refetches() -> None:
    """Send a request for every refetch that is due (the URL state's indexed `due_at`, not a
    scan of every URL); the worker holding partition 0 of the input does it for all, and the
    requests go to the input keyed by article, so each reaches the worker of its partition.
    The handler records each refetch made, so one sent twice (a restart, a new holder of
    partition 0) is fetched once; here a request is not sent again for an hour unless it was made."""
    if not refetch_schedule or not _polls_here():
        return
    now = time.time()
    for key in [k for k, sent in _requested.items() if now - sent > 3600]:
        del _requested[key]
    try:
        states = await url_state.due(now)
    except Exception as exc:  # noqa: BLE001 - a failed check must not stop the worker; the next one tries again
        log.warning("refetch check failed", error=type(exc).__name__, reason=str(exc)[:300])
        return
    for article, url, number in due(states, now, refetch_schedule):
        if (article, number) in _requested:
            continue
        event = refetch_request(article, url, number)
        await send_acknowledged(app, Outgoing(settings.topic(INPUT_TOPIC), article.encode(), encode(event, REQUEST_SCHEMA),
                                              REQUEST_SCHEMA))
        _requested[(article, number)] = now
        log.info("refetch requested", article_id=article, url=url, refetch=number)


@app.timer(max(1.0, settings.state_sweep_interval_s))
async def sweep_url_state() -> None:
    """Forget URL state older than the retention (the worker holding partition 0 does it)."""
    if not _polls_here():
        return
    try:
        await url_state.sweep(time.time())
    except Exception as exc:  # noqa: BLE001 - a failed sweep must not stop the worker; the next one tries again
        log.warning("url state sweep failed", error=type(exc).__name__, reason=str(exc)[:300])


async def _prepare_topics() -> None:
    """The discovered-URL record exists before the poller reads it (run_worker prepares the
    table's changelog)."""
    if sources:
        await ensure_compacted_topic(settings, seen_topic(settings), 1)


def main() -> None:
    run_worker(app, settings, prepare=_prepare_topics)
