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
