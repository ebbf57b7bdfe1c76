"""`newsflow dlq` end to end, through the real CLI, services, Kafka and Elasticsearch: pages that
404 are dead-lettered by the fetch stage; they are put in place (the fix); a redrive selected
by article id sends one back, once however often it is run, and it is indexed; a redrive of
the whole stage then sends only the other, which is indexed too."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from functools import partial
from http.server import ThreadingHTTPServer

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from .conftest import REPO, SAMPLES, QuietHandler, run, wait_until
from .helpers import indexed, read_topic, submit

pytestmark = pytest.mark.integration

NEWSFLOW = str(REPO / ".venv" / "bin" / "newsflow")
PAGES = ("river-cleanup-volunteers.html", "berlin-tram-extension.html")


@pytest.fixture
def fixable_site(tmp_path):
    """A web site serving tmp_path: a page not copied there yet answers 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def cli(env, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([NEWSFLOW, "dlq", *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def redriven_from(settings, topic: str, letter_position: str) -> int:
    """How many messages on `topic` carry the redrive header of this dead letter."""
    wanted = f"{settings.topic('news.dlq')}:{letter_position}".encode()

    async def go():
        consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
        await consumer.start()
        found = 0
        try:
            while batch := await consumer.getmany(timeout_ms=3000):
                for messages in batch.values():
                    found += sum(1 for m in messages if (("newsflow.redrive.letter", wanted) in list(m.headers or ())))
        finally:
            await consumer.stop()
        return found

    return run(go())


def test_failed_fixed_redriven_indexed_once_each(services, settings, test_env, fixable_site):
    folder, base = fixable_site
    urls = [f"{base}/{page}" for page in PAGES]
    first, second = submit(urls)

    def letters_for(article):
        return [e for e in read_topic(settings, "news.dlq", timeout_s=1.0) if e.get("id") == article]

    for article in (first, second):
        letter = wait_until(lambda: letters_for(article), 120, f"the 404's dead letter of {article}")[0]
        assert letter["payload"]["stage"] == "fetch" and "404" in letter["payload"]["reason"]
    error = letter["payload"]["error"]

    listed = [orjson.loads(line) for line in cli(test_env, "list", "--json", "--stage", "fetch").stdout.splitlines()]
    rows = {row["article"]: row for row in listed if row["article"] in (first, second)}
    assert set(rows) == {first, second} and not any(row["redriven"] for row in rows.values())
    shown = orjson.loads(cli(test_env, "show", rows[first]["id"]).stdout)
    assert shown["original_as"] == "json" and shown["original"]["payload"]["url"] == urls[0]
    counts = orjson.loads(cli(test_env, "count", "--json", "--stage", "fetch", "--error", error).stdout)
    assert counts["total"] >= 2

    for page in PAGES:  # the fix
        shutil.copy(SAMPLES / page, folder / page)

    done = cli(test_env, "redrive", "--id", first, "--since", "1h")
    assert "redrove 1 of 1 selected" in done.stdout, done.stdout
    assert "redrive" in done.stderr  # the progress bar
    wait_until(lambda: indexed(settings, first), 180, "the redriven article in Elasticsearch")

    again = cli(test_env, "redrive", "--id", first)
    assert "redrove 0 of 1 selected" in again.stdout and "1 already redriven" in again.stdout, again.stdout
    assert redriven_from(settings, "news.fetch.requests", rows[first]["id"]) == 1

    rest = cli(test_env, "redrive", "--stage", "fetch", "--error", error)
    sent, already = map(int, re.search(r"redrove (\d+) of .*; (\d+) already redriven", rest.stdout).groups())
    assert sent >= 1 and already >= 1, rest.stdout  # the second (and any other test's), not the first again
    wait_until(lambda: indexed(settings, second), 180, "the second redriven article in Elasticsearch")
    assert redriven_from(settings, "news.fetch.requests", rows[second]["id"]) == 1
    assert redriven_from(settings, "news.fetch.requests", rows[first]["id"]) == 1

    listed = [orjson.loads(line) for line in cli(test_env, "list", "--json", "--id", first, "--id", second).stdout.splitlines()]
    assert {row["article"]: row["redriven"] for row in listed} == {first: True, second: True}
