"""Every `newsflow` command answers bad input and unreachable servers with one clear line on
stderr and a non-zero exit, soon, and never a traceback: the real CLI, run as a user would.
Unreachable servers are a closed port on this machine; the others are the real ones."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from elasticsearch import Elasticsearch

from newsflow.core.settings import Settings
from newsflow.stages import WEB_PORT_OFFSETS

from .conftest import REPO, SAMPLES, Services, free_port
from .ports import web_port_base

pytestmark = pytest.mark.integration

NEWSFLOW = str(REPO / ".venv" / "bin" / "newsflow")
# "Fails fast" means seconds, not minutes of retries; generous for 2 busy cores.
FAST_S = 45


def fails(env: dict, *args: str, status: int | None = None, says: str = "") -> str:
    started = time.monotonic()
    done = subprocess.run([NEWSFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
    took = time.monotonic() - started
    lines = done.stderr.splitlines()
    assert done.returncode != 0, (args, done.stdout, done.stderr)
    if status is not None:
        assert done.returncode == status, (args, done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("newsflow"), (args, done.stderr)
    assert says in lines[0], (says, lines[0])
    assert took < FAST_S, f"newsflow {' '.join(args)} took {took:.0f}s to fail"
    return lines[0]


@pytest.fixture(scope="module")
def no_kafka(test_env) -> dict:
    return {**test_env, "NEWSFLOW_KAFKA": f"127.0.0.1:{free_port()}"}


@pytest.fixture(scope="module")
def no_elasticsearch(test_env) -> dict:
    return {**test_env, "NEWSFLOW_ELASTICSEARCH": f"http://127.0.0.1:{free_port()}"}


KAFKA_DOWN = "is unreachable"


def test_no_command_and_unknown_options(test_env):
    fails(test_env, status=2, says="required")
    fails(test_env, "status", "--frobnicate", status=2, says="unrecognized arguments")


def test_extract_bad_files(test_env, tmp_path):
    assert fails(test_env, "extract", "missing.html", says="missing.html: no such file")
    fails(test_env, "extract", "/etc/passwd", says="/etc/passwd: not HTML")
    fails(test_env, "extract", str(tmp_path), says="is a directory")
    broken = tmp_path / "broken.html.gz"
    broken.write_bytes(b"\x1f\x8b\x08 not really gzip")
    fails(test_env, "extract", str(broken), says="not a readable gzip file")


def test_extract_names_the_bad_file_among_good_ones(test_env):
    done = subprocess.run([NEWSFLOW, "extract", str(SAMPLES / "stadtfest-programm.html"), "/etc/passwd"],
                          env=test_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == ["newsflow extract: /etc/passwd: not HTML (no HTML markup in it)"]
    first, second = done.stdout.splitlines()  # still one JSON line per file
    assert '"title":"Stadtfest' in first and '"error":"UnreadableFile"' in second


def test_extract_enrich_without_corenlp(test_env):
    env = {**test_env, "NEWSFLOW_CORENLP_URL": f"http://127.0.0.1:{free_port()}"}
    fails(env, "extract", "--enrich", str(SAMPLES / "stadtfest-programm.html"), says="CoreNLP server")


def test_submit_bad_urls_and_no_kafka(test_env, no_kafka):
    fails(test_env, "submit", "not-a-url", status=2, says="'not-a-url': not an http(s) URL")
    fails(test_env, "submit", "https://example.com/a", "ftp://example.com/b", status=2, says="scheme 'ftp'")
    fails(test_env, "submit", "--feed", "feed.xml", status=2, says="not an http(s) URL")
    fails(no_kafka, "submit", "https://example.com/a", says=f"Kafka at {no_kafka['NEWSFLOW_KAFKA']} {KAFKA_DOWN}")


def test_status_without_kafka_or_elasticsearch(no_kafka, no_elasticsearch):
    fails(no_kafka, "status", says="Kafka at")
    line = fails(no_elasticsearch, "status", says="Elasticsearch at")  # the Kafka table is still printed
    assert KAFKA_DOWN in line
    fails(no_elasticsearch, "status", "--json", says="Elasticsearch at")


def test_replay_bad_positions_and_no_kafka(test_env, no_kafka):
    fails(test_env, "replay", "--topic", "news.raw", "--from", "yesterday", status=2, says="not an offset or an ISO time")
    fails(test_env, "replay", "--topic", "news.html", status=2, says="invalid choice")
    fails(no_kafka, "replay", "--topic", "news.raw", says="Kafka at")


def test_reindex_without_servers_leaves_no_index_behind(test_env, settings):
    alias = f"{test_env['NEWSFLOW_INDEX_ALIAS']}-cli-errors"  # its own: other tests fill the session's
    closed = free_port()
    fails({**test_env, "NEWSFLOW_INDEX_ALIAS": alias, "NEWSFLOW_ELASTICSEARCH": f"http://127.0.0.1:{closed}"},
          "reindex", "--quiet", says="Elasticsearch at")
    fails({**test_env, "NEWSFLOW_INDEX_ALIAS": alias, "NEWSFLOW_KAFKA": f"127.0.0.1:{closed}"},
          "reindex", "--quiet", says="Kafka at")
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    try:
        assert not es.indices.get(index=f"{alias}-v*", allow_no_indices=True, expand_wildcards="all")
    finally:
        es.close()


def test_dlq_bad_selections_and_no_kafka(test_env, no_kafka):
    fails(test_env, "dlq", "list", "--since", "last tuesday", status=2, says="not an ISO time or an age")
    fails(test_env, "dlq", "count", "--stage", "fetsch", status=2, says="unknown stage fetsch")
    fails(test_env, "dlq", "redrive", "--id", "17", status=2, says="not a dead-letter id")
    fails(test_env, "dlq", "show", "0:999999999", status=1, says="no dead letter 0:999999999")
    fails(test_env, "dlq", status=2, says="required")
    fails(test_env, "dlq", "redrive", status=2, says="or --all")  # everything only when asked for
    for command in (["list"], ["count"], ["redrive", "--all"], ["redrive", "--stage", "parse", "--dry-run"]):
        fails(no_kafka, "dlq", *command, says="Kafka at")
    fails(no_kafka, "dlq", "show", "0:1", says="Kafka at")


def test_serve_unknown_service(test_env):
    fails(test_env, "serve", "fetcher", status=2, says="invalid choice: 'fetcher'")


def test_serve_on_a_busy_port_exits_without_traceback(test_env):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**test_env, "NEWSFLOW_SEARCH_PORT": str(taken.getsockname()[1])}
        done = subprocess.run([NEWSFLOW, "serve", "search"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "address already in use" in done.stderr + done.stdout  # said in the service's JSON log


def test_a_service_that_cannot_bind_its_port_fails_the_wait_at_once(test_env):
    """The harness's readiness wait: a stage that exits at start (here its web port is taken)
    fails the wait with the end of its log, instead of a test waiting minutes for an article."""
    base = web_port_base()
    env = {**test_env, "NEWSFLOW_WEB_PORT_BASE": str(base)}
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", base + WEB_PORT_OFFSETS["fetch"]))
        taken.listen()
        services = Services(env, REPO / ".var" / "logs" / f"test-busyport{base}")
        services.start("fetch")
        started = time.monotonic()
        try:
            with pytest.raises(AssertionError, match="the fetch service exited") as failed:
                services.wait_ready(Settings().replace(web_port_base=base), timeout_s=300)
        finally:
            services.procs.clear()  # it has exited
    assert "address already in use" in str(failed.value)
    assert time.monotonic() - started < 120


def test_submit_feed_without_kafka(no_kafka, tmp_path):
    """The feed is read (from a local site), then the requests cannot be sent: one line."""
    import threading
    from functools import partial
    from http.server import ThreadingHTTPServer

    from .conftest import QuietHandler

    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>a</title><link>https://example.com/news/a.html</link></item></channel></rss>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feed = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
        fails(no_kafka, "submit", "--feed", feed, says="Kafka at")
    finally:
        server.shutdown()
