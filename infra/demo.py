"""`make run`'s last step: submit the bundled sample pages, wait until they are searchable,
and show a search through the search API."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from newsflow.cli import _submit
from newsflow.core.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
SAMPLES_PORT = int(os.environ.get("NEWSFLOW_SAMPLES_PORT", "8765"))
QUERY = "Zuckerberg Talente"
TIMEOUT_S = 180


def wait_for(url: str, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"demo: {what} did not answer at {url}; see .var/logs/")


def main() -> int:
    settings = get_settings()
    api = f"http://127.0.0.1:{settings.search_port}"
    samples = f"http://127.0.0.1:{SAMPLES_PORT}"
    wait_for(f"{samples}/", "the sample site")
    wait_for(f"{api}/health", "the search API")
    urls = [f"{samples}/{name}" for name in (REPO / "samples" / "urls.txt").read_text().split()]
    ids = asyncio.run(_submit(urls, "samples"))
    print(f"demo: submitted {len(urls)} sample pages; waiting until they are indexed ...")
    deadline = time.monotonic() + TIMEOUT_S
    missing = set(ids)
    while missing and time.monotonic() < deadline:
        missing = {i for i in missing if httpx.get(f"{api}/articles/{i}", timeout=5).status_code != 200}
        time.sleep(1)
    if missing:
        print(f"demo: {len(missing)} of {len(ids)} not indexed after {TIMEOUT_S}s; `newsflow status` and .var/logs/ tell why")
    result = httpx.get(f"{api}/search", params={"q": QUERY}, timeout=10).json()
    print(f"\nsearch {QUERY!r}: {result['total']} hits")
    for rank, hit in enumerate(result["hits"], 1):
        print(f"  {rank}. {hit['title']}  [{hit['language']}, {hit['published']}]  score {hit['score']:.2f}\n     {hit['url']}")
    print(f"\nsearch page:    {api}/")
    print(f"search API:     {api}/search?q=...   (docs at {api}/docs)")
    print(f"Elasticsearch:  {settings.elasticsearch_url}  (alias '{settings.index_alias}')")
    print("logs:           .var/logs/   stop with: make down")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
