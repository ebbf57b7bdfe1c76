"""The near-duplicate claims in the real Elasticsearch (services/enrich/cluster_state.py): a
claim is seen at once by the agent that wrote it (before any refresh), by a restarted agent
(nothing is kept in the worker), only within the look-back window, and is gone once swept."""

from __future__ import annotations

import asyncio

import pytest

from newsflow.core.settings import Settings
from newsflow.core.state_index import state_index
from newsflow.enrich.cluster_state import EsClusters

from ..unit.test_bounded_state import DAY, _copy, cluster_of, story, timed
from .helpers import es, run_stem

pytestmark = pytest.mark.integration


@pytest.fixture
def state_settings(stack):
    settings = Settings(index_alias=f"{run_stem('teststate')}-articles", near_duplicate_window_s=30 * DAY)
    yield settings
    es(settings).options(ignore_status=404).indices.delete(index=state_index(settings, "clusters"))


def run(coro):
    return asyncio.run(coro)


def test_claims_survive_a_restart_and_are_seen_before_any_refresh(state_settings):
    a, b, other = story()
    now = 1.75e9

    async def first_worker():
        clusters = EsClusters(state_settings)
        try:
            first = await clusters.settle(timed(_copy(a), now))
            # no refresh from now on: only the claims this agent keeps can make `a` visible
            await (await clusters.es()).indices.put_settings(index=clusters.index, settings={"refresh_interval": "-1"})
            clusters._refreshed = True
            second = await clusters.settle(timed(_copy(b), now + 60))
            third = await clusters.settle(timed(_copy(other), now + 61))
            return first, second, third, len(clusters.pending)
        finally:
            await clusters.close()

    first, second, third, pending = run(first_worker())
    assert cluster_of(first) == a["id"] and cluster_of(second) == a["id"] and cluster_of(third) == other["id"]
    assert pending == 3  # all three were found through the agent's own unrefreshed claims

    async def restarted_worker():
        clusters = EsClusters(state_settings)
        try:
            again = await clusters.settle(timed(_copy(b), now + 60))   # a redelivery after the restart
            return again, await clusters.settle(timed(_copy(a), now))
        finally:
            await clusters.close()

    again, original = run(restarted_worker())
    assert cluster_of(again) == a["id"] and cluster_of(original) == a["id"]


def test_only_claims_within_the_window_count_and_older_ones_are_swept(state_settings):
    a, b, _ = story()
    now = __import__("time").time()

    async def go():
        clusters = EsClusters(state_settings)
        try:
            await clusters.settle(timed(_copy(a), now - 40 * DAY))          # beyond the 30-day window
            late_copy = await clusters.settle(timed(_copy(b), now))
            swept = await clusters.sweep(now)
            left = await clusters.candidates([f"a:{a['id']}", f"a:{b['id']}"], 0.0)
            return late_copy, swept, left
        finally:
            await clusters.close()

    late_copy, swept, left = run(go())
    assert cluster_of(late_copy) == b["id"]  # a's claims were outside the window
    assert swept == 1                        # a's claim, the only one older than the window
    assert {claim["article"] for claim in left} == {b["id"]}


def test_a_batch_settles_as_one_by_one_and_a_failed_write_leaves_no_trace(state_settings):
    """A copy settled in the same batch as its original joins it (it sees the claims of those
    before it in the batch); a batch whose claims cannot be written changes nothing, so trying
    it again decides the same."""
    a, b, other = story()
    now = 1.75e9

    async def go():
        clusters = EsClusters(state_settings)
        try:
            await clusters.es()
            real_bulk = clusters._es.bulk

            async def refused(**kwargs):
                raise __import__("newsflow.core.outage", fromlist=["x"]).DependencyUnavailable("elasticsearch", "test")

            clusters._es.bulk = refused  # the client of this test's own agent, not the library's
            with pytest.raises(Exception, match="unavailable"):
                await clusters.settle_all([timed(_copy(a), now), timed(_copy(b), now + 60)])
            left_pending = len(clusters.pending)
            clusters._es.bulk = real_bulk
            batch = await clusters.settle_all([timed(_copy(a), now), timed(_copy(b), now + 60),
                                               timed(_copy(other), now + 61)])
            return left_pending, batch, len(clusters.pending)
        finally:
            await clusters.close()

    left_pending, batch, pending = run(go())
    assert left_pending == 0
    assert [cluster_of(e) for e in batch] == [a["id"], a["id"], other["id"]]
    assert pending == 3
