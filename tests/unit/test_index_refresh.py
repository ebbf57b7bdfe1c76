"""The index stage's refresh after write (services/index/refresh.py): requests coalesce, at most
one refresh per gap, a failed refresh does not stop later ones."""

import asyncio

from newsflow.index.refresh import Refresher, refresh_delay


def test_refresh_delay_keeps_the_gap():
    assert refresh_delay(10.0, None, 0.25) == 0.0
    assert abs(refresh_delay(10.0, 9.9, 0.25) - 0.15) < 1e-9
    assert refresh_delay(10.0, 9.0, 0.25) == 0.0


async def _until(predicate, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_requests_within_the_gap_share_one_refresh():
    async def go():
        calls = []

        async def refresh():
            calls.append(1)

        refresher = Refresher(refresh, min_gap_s=3600)  # a second refresh would wait an hour
        for _ in range(5):
            refresher.request()
        await _until(lambda: refresher.refreshes == 1)
        refresher.request()  # after the refresh started: waits for the gap, not run now
        await asyncio.sleep(0.05)
        await refresher.close()
        return calls

    assert asyncio.run(go()) == [1]


def test_a_request_after_a_refresh_gets_its_own_and_failures_do_not_stop_it():
    async def go():
        outcomes = [RuntimeError("es busy"), None, None]

        async def refresh():
            outcome = outcomes.pop(0)
            if outcome:
                raise outcome

        refresher = Refresher(refresh, min_gap_s=0.0)
        refresher.request()
        await _until(lambda: len(outcomes) == 2)   # the failed one
        refresher.request()
        await _until(lambda: refresher.refreshes == 1)
        refresher.request()
        await _until(lambda: refresher.refreshes == 2)
        await refresher.close()
        return refresher.refreshes

    assert asyncio.run(go()) == 2


def test_the_gap_stretches_with_the_age_of_the_freshest_document():
    from newsflow.index.refresh import refresh_gap

    assert refresh_gap(None, 0.5, 5.0) == 0.5          # unknown age: the floor
    assert refresh_gap(0.4, 0.5, 5.0) == 0.5           # a document at a steady pace
    assert refresh_gap(8.0, 0.5, 5.0) == 2.0           # a quarter of its age
    assert refresh_gap(3600.0, 0.5, 5.0) == 5.0        # a replay: the ceiling


def test_a_fresh_document_cuts_short_the_wait_an_old_one_set():
    async def go():
        refreshed_at = []
        loop = asyncio.get_running_loop()

        async def refresh():
            refreshed_at.append(loop.time())

        refresher = Refresher(refresh, min_gap_s=0.2, max_gap_s=30.0)
        refresher.request(age_s=1.0)
        await _until(lambda: refresher.refreshes == 1)           # the first one at once
        refresher.request(age_s=3600.0)                          # backlog: would wait 30 s
        await asyncio.sleep(0.5)
        assert refresher.refreshes == 1
        asked = loop.time()
        refresher.request(age_s=0.3)                             # fresh: the 0.2 s floor, already passed
        await _until(lambda: refresher.refreshes == 2)
        await refresher.close()
        return refreshed_at[1] - asked

    assert asyncio.run(go()) < 5.0
