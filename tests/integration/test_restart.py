"""A service killed with SIGKILL mid-stream and restarted neither loses nor duplicates articles."""

import time

import pytest

from .conftest import wait_until
from .helpers import es, submit

pytestmark = pytest.mark.integration

PAGES = ("berlin-tram-extension.html", "river-cleanup-volunteers.html", "chip-startup-funding.html", "stadtfest-programm.html")


def _count(settings, marker: str) -> int:
    client = es(settings)
    try:
        # 404 until the index stage has written its first batch and created the index
        client.options(ignore_status=404).indices.refresh(index=settings.index_alias)
        found = client.options(ignore_status=404).count(index=settings.index_alias,
                                                         query={"wildcard": {"url": f"*restart={marker}*"}})
        return found.get("count", 0)
    finally:
        client.close()


@pytest.mark.parametrize("victim", ["parse", "index"])
def test_killed_and_restarted_service_loses_and_duplicates_nothing(services, settings, sample_site, victim):
    marker = f"{victim}{int(time.time())}"
    urls = [f"{sample_site}/{PAGES[i % len(PAGES)]}?restart={marker}-{i}" for i in range(40)]
    ids = submit(urls)
    assert len(set(ids)) == len(urls)
    time.sleep(1.5)  # let the stream get going, then pull the plug
    services.kill(victim)
    time.sleep(1.0)
    services.start(victim)
    wait_until(lambda: _count(settings, marker) >= len(urls), 180, f"all {len(urls)} articles indexed after restart")
    time.sleep(3)  # give a duplicate time to show up, if one were coming
    assert _count(settings, marker) == len(urls)
