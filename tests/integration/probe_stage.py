"""A stage for the delivery tests, run as its own worker process: it reads fetch requests
through the real stage shell and commit path, sleeps as long as the URL's `sleep` parameter
says (only the first time it sees the request), and journals each request's begin and done
to the file named by PROBE_JOURNAL, so a test knows what was in flight when it killed it."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import parse_qs, urlsplit

from newsflow.core.app import create_app, run_worker
from newsflow.core.settings import get_settings
from newsflow.core.stage import StageSpec, attach_stage

JOURNAL = os.environ["PROBE_JOURNAL"]
WEB_PORT_OFFSET = 9

settings = get_settings()
app = create_app("probe", WEB_PORT_OFFSET, settings)


def _journal(what: str, article_id: str) -> None:
    with open(JOURNAL, "a") as out:
        out.write(f"{what} {article_id} {os.getpid()}\n")


def _seen_before(article_id: str) -> bool:
    try:
        with open(JOURNAL) as journal:
            return any(line.split()[1] == article_id for line in journal)
    except FileNotFoundError:
        return False


async def handle(event: dict) -> None:
    first_time = not _seen_before(event["id"])
    _journal("begin", event["id"])
    if first_time:
        await asyncio.sleep(float(parse_qs(urlsplit(event["payload"]["url"]).query).get("sleep", ["0"])[0]))
    _journal("done", event["id"])
    return None


attach_stage(app, StageSpec(name="probe", input_topic="news.fetch.requests", input_schema="news.fetch.request/1",
                            handle=handle, is_async=True, concurrency=int(os.environ.get("PROBE_CONCURRENCY", "2"))),
             settings)

if __name__ == "__main__":
    run_worker(app, settings)
