"""The fetch service as it runs, against real Kafka and the local test site: the sources poller,
dead letters with reasons, `newsflow submit --feed/--sitemap`, and the per-URL state table
surviving a restart or a SIGKILL (a conditional GET answered 304 emits nothing) and forgotten
after its retention.

It runs its own fetch worker under its own topic prefix, with a sources file, so that it can
be restarted without disturbing the pipeline the other tests share."""

import asyncio
import subprocess
import time

import orjson
import pytest

from newsflow.core.envelope import encode
from newsflow.core.ids import article_id
from newsflow.core.kafka import producer
from newsflow.core.settings import Settings
from newsflow.fetch.poller import REQUEST_SCHEMA, request_event
from tests.fetchsite import FetchSite

from .conftest import REPO, ServiceProcess, wait_until, _ok
from .helpers import es, read_topic, run_stem
from .ports import web_port_base
from newsflow.core.state_index import state_index

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
    stem = run_stem("testfetch")
    sources = tmp_path_factory.mktemp("fetch") / "sources.yaml"
    sources.write_text(f"""sources:
  - {{type: feed, url: "{site.url('/feed.xml')}", interval: 1s, name: test-feed}}
  - {{type: sitemap, url: "{site.url('/sitemap-index.xml')}", interval: 2s}}
""")
    return {
        **test_env,
        "NEWSFLOW_TOPIC_PREFIX": f"{stem}.",
        # its own URL state (an index named after the alias), apart from the shared pipeline's
        "NEWSFLOW_INDEX_ALIAS": f"{stem}-articles",
        "NEWSFLOW_FETCH_URL_STATE_RETENTION": "2d",
        "NEWSFLOW_STATE_SWEEP_INTERVAL": "1s",
        "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
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
    settings = Settings(topic_prefix=fetch_env["NEWSFLOW_TOPIC_PREFIX"], index_alias=fetch_env["NEWSFLOW_INDEX_ALIAS"])
    yield settings
    es(settings).options(ignore_status=404).indices.delete(index=state_index(settings, "urls"))


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
    assert hits[1].headers.get("if-none-match") == '"article-50-v1"'  # the ETag came back from the state

    def latest_state():
        state = url_state(fetch_settings, first["id"])
        return state and state["trace_id"] == second["trace_id"] and state

    state = wait_until(latest_state, 30, "the 304 recorded in the state")
    assert state["status"] == 304
    time.sleep(1.0)  # had a raw event been coming, it would be there by now
    assert len(events_for(fetch_settings, "news.raw", {first["id"]})) == 1


def url_state(settings: Settings, key: str) -> dict | None:
    """A URL's state as the fetch stage keeps it (services/fetch/url_state.py)."""
    answer = es(settings).options(ignore_status=404).get(index=state_index(settings, "urls"), id=key, realtime=True)
    return answer.get("_source") if answer.get("found") else None


def test_state_outlives_a_killed_worker_and_is_forgotten_after_its_retention(service, site, fetch_settings):
    """SIGKILL mid-life: the restarted worker still has every URL's state (nothing of it was
    in the worker); states whose last fetch is older than the retention (2 days here) are
    swept, younger ones stay."""
    url = site.url("/article/51.html")
    first = submit(fetch_settings, [url])[0]
    wait_until(lambda: events_for(fetch_settings, "news.raw", {first["id"]}), 60, "the first fetch")
    index = state_index(fetch_settings, "urls")
    now = time.time()
    old, young = "0" * 31 + "1", "0" * 31 + "2"
    client = es(fetch_settings)
    client.index(index=index, id=old, document={"fetched_at": now - 3 * 86400, "url": "https://gone.example/a"})
    client.index(index=index, id=young, document={"fetched_at": now - 86400, "url": "https://kept.example/a"})

    service.kill()
    service.start()
    hits = len(site.hits_for("/article/51.html"))
    submit(fetch_settings, [url])
    wait_until(lambda: len(site.hits_for("/article/51.html")) > hits, 120, "the fetch after the SIGKILL")
    assert site.hits_for("/article/51.html")[-1].headers.get("if-none-match") == '"article-51-v1"'

    wait_until(lambda: url_state(fetch_settings, old) is None, 60, "the sweep of the expired state")
    assert url_state(fetch_settings, young) is not None
    assert url_state(fetch_settings, first["id"]) is not None

