"""The fetch service as it runs, against real Kafka and the local test site: the sources poller,
dead letters with reasons, `newsflow submit --feed/--sitemap`, and the per-URL state table
surviving a restart (a conditional GET answered 304 emits nothing).

It runs its own fetch worker under its own topic prefix, with a sources file, so that it can
be restarted without disturbing the pipeline the other tests share."""

import asyncio
import subprocess
import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from newsflow.core.envelope import encode
from newsflow.core.ids import article_id
from newsflow.core.kafka import producer
from newsflow.core.settings import Settings
from newsflow.fetch.poller import REQUEST_SCHEMA, request_event
from tests.fetchsite import FetchSite

from .conftest import REPO, ServiceProcess, free_port, wait_until, _ok
from .helpers import read_topic

pytestmark = pytest.mark.integration

NEWSFLOW = str(REPO / ".venv" / "bin" / "newsflow")


class FetchService(ServiceProcess):
    """The fetch worker; `start` returns once its web endpoint answers."""

    def __init__(self, env: dict[str, str]):
        super().__init__("fetch", env, REPO / ".var" / "logs" / f"test-{env['NEWSFLOW_TOPIC_PREFIX'].rstrip('.')}" / "fetch.log")
        self.health = f"http://127.0.0.1:{int(env['NEWSFLOW_WEB_PORT_BASE']) + 1}/health"

    def start(self) -> None:
        super().start()

        def up():
            assert self.proc.poll() is None, f"the fetch service exited; see {self.log_path}"
            return _ok(self.health)

        wait_until(up, 60, "the fetch service")


@pytest.fixture(scope="module")
def site():
    with FetchSite("127.0.0.6") as s:
        yield s


@pytest.fixture(scope="module")
def fetch_env(test_env, site, tmp_path_factory):
    sources = tmp_path_factory.mktemp("fetch") / "sources.yaml"
    sources.write_text(f"""sources:
  - {{type: feed, url: "{site.url('/feed.xml')}", interval: 1s, name: test-feed}}
  - {{type: sitemap, url: "{site.url('/sitemap-index.xml')}", interval: 2s}}
""")
    return {
        **test_env,
        "NEWSFLOW_TOPIC_PREFIX": f"testfetch{uuid.uuid4().hex[:8]}.",
        "NEWSFLOW_WEB_PORT_BASE": str(free_port() - 1),
        "NEWSFLOW_SOURCES": str(sources),
        "NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_HOST_DELAY": "0",
        "NEWSFLOW_FETCH_REFETCH_AFTER": "0",  # every new request for a URL is a conditional GET
        "NEWSFLOW_FETCH_MAX_ATTEMPTS": "2",
        "NEWSFLOW_FETCH_BACKOFF_BASE": "0.1",
        "NEWSFLOW_FETCH_TIMEOUT": "3",
    }


@pytest.fixture(scope="module")
def fetch_settings(fetch_env) -> Settings:
    return Settings(topic_prefix=fetch_env["NEWSFLOW_TOPIC_PREFIX"])


@pytest.fixture(scope="module")
def service(fetch_env):
    svc = FetchService(fetch_env)
    svc.start()
    yield svc
    svc.stop()


def submit(settings: Settings, urls: list[str]) -> list[dict]:
    async def go():
        events = [request_event(url, "test", "test") for url in urls]
        async with producer(settings) as send:
            for event in events:
                await send(settings.topic("news.fetch.requests"), event["id"].encode(), encode(event, REQUEST_SCHEMA))
        return events

    return asyncio.run(go())


def events_for(settings: Settings, topic: str, ids: set[str]) -> list[dict]:
    return [e for e in read_topic(settings, topic, timeout_s=1.0) if e.get("id") in ids]


def test_the_poller_submits_feed_and_sitemap_entries_once(service, site, fetch_settings):
    urls = [site.url(f"/article/{n}.html") for n in (1, 2, 3, *range(20, 26))]
    ids = {article_id(u) for u in urls}
    raw = wait_until(lambda: (found := events_for(fetch_settings, "news.raw", ids)) and
                     {e["id"] for e in found} == ids and found, 60, "every feed and sitemap entry fetched")
    assert {e["payload"]["source"] for e in raw} == {"test-feed", f"sitemap:{site.url('/sitemap-index.xml')}"}
    wait_until(lambda: len(site.hits_for("/feed.xml")) >= 3, 20, "the feed polled again")
    requests = events_for(fetch_settings, "news.fetch.requests", ids)
    assert sorted(e["payload"]["url"] for e in requests) == sorted(urls)  # each once, however often polled
    assert not any(h.path == "/doc.pdf" for h in site.hits)  # the feed's PDF link was never requested


def test_failures_go_to_the_dlq_with_status_and_reason(service, site, fetch_settings):
    cases = {
        site.url("/private/1.html"): ("FetchRefused", "disallowed by robots.txt"),
        site.url("/gone?id=svc"): ("FetchFailed", "HTTP 404: Not Found"),
        site.url("/doc.pdf"): ("FetchRefused", "content type application/pdf"),
        "http://[::1]:9/x": ("AddressRefused", "::1: a loopback address, refused"),
        site.url("/always/503?id=svc"): ("FetchFailed", "HTTP 503: Service Unavailable (after 2 attempts)"),
        site.url("/loop/a"): ("FetchFailed", "redirect loop"),
    }
    requests = submit(fetch_settings, list(cases))
    ids = {e["id"] for e in requests}
    letters = wait_until(lambda: (found := events_for(fetch_settings, "news.dlq", ids)) and len(found) >= len(ids) and found,
                         60, "a dead letter for each failing URL")
    by_url = {orjson.loads(letter["payload"]["original"])["payload"]["url"]: letter for letter in letters}
    for url, (error, reason) in cases.items():
        payload = by_url[url]["payload"]
        assert payload["stage"] == "fetch" and payload["error"] == error and reason in payload["reason"], payload
    assert site.count("gone-svc") - 1 == 1  # a 404 is not retried


def test_cli_feed_and_sitemap_submit_only_new_entries(service, site, fetch_env, fetch_settings):
    def cli(*args):
        done = subprocess.run([NEWSFLOW, "submit", *args], env=fetch_env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    first = cli("--feed", site.url("/atom.xml"))
    assert [line.split()[1] for line in first.stdout.splitlines()] == [site.url("/article/5.html"), site.url("/article/6.html")]
    assert "2 new" in first.stderr
    again = cli("--feed", site.url("/atom.xml"))
    assert again.stdout == "" and "0 new, 2 already submitted" in again.stderr
    # The sitemap's entries were submitted by the service's poller: the command line knows.
    sitemap = cli("--sitemap", site.url("/sitemap-index.xml"))
    assert sitemap.stdout == "" and "6 already submitted" in sitemap.stderr
    ids = {article_id(site.url(f"/article/{n}.html")) for n in (5, 6)}
    wait_until(lambda: len({e["id"] for e in events_for(fetch_settings, "news.raw", ids)}) == 2, 60, "the atom entries fetched")


def test_state_survives_a_restart_and_a_304_emits_nothing(service, site, fetch_settings):
    url = site.url("/article/50.html")
    first = submit(fetch_settings, [url])[0]
    wait_until(lambda: events_for(fetch_settings, "news.raw", {first["id"]}), 60, "the first fetch")

    service.stop()
    service.start()
    # Ready means assigned: the poller (on the worker holding partition 0) polls again.
    polls = len(site.hits_for("/feed.xml"))
    wait_until(lambda: len(site.hits_for("/feed.xml")) > polls, 60, "the restarted worker's first poll")
    second = submit(fetch_settings, [url])[0]
    hits = wait_until(lambda: len(site.hits_for("/article/50.html")) >= 2 and site.hits_for("/article/50.html"),
                      60, "the second fetch")
    assert hits[1].headers.get("if-none-match") == '"article-50-v1"'  # the ETag came back from the changelog

    def latest_state():
        values = [v for k, v in changelog(fetch_settings, "url-state") if k == first["id"]]
        return values and values[-1]["trace_id"] == second["trace_id"] and values[-1]

    state = wait_until(latest_state, 30, "the 304 recorded in the table")
    assert state["status"] == 304
    time.sleep(1.0)  # had a raw event been coming, it would be there by now
    assert len(events_for(fetch_settings, "news.raw", {first["id"]})) == 1


def changelog(settings: Settings, table: str) -> list[tuple[str, dict]]:
    """(key, value) of a faust table's changelog topic, oldest first."""
    async def go():
        topic = f"{settings.topic_prefix}newsflow-fetch-{table}-changelog"
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        rows = []
        try:
            while batch := await consumer.getmany(timeout_ms=1000):
                for messages in batch.values():
                    rows.extend((orjson.loads(m.key), orjson.loads(m.value)) for m in messages if m.value)
        finally:
            await consumer.stop()
        return rows

    return asyncio.run(go())

