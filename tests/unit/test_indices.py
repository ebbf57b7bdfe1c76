"""Month-partitioned indices: names, the month an article is filed under, retention, the
atomic swap of a generation, and the placement that keeps an article in one index."""

import asyncio
from datetime import date

import pytest

from newsflow.index.indices import (IndexName, current_generation, cutoff_month, first_index, index_name, month_of,
                                   months_before, next_generation, parse_index, swap_actions)
from newsflow.index.placement import Layout, place


def test_names_round_trip_in_both_layouts():
    assert index_name("articles", 3, "2025.06") == "articles-v3-2025.06"
    assert parse_index("articles", "articles-v3-2025.06") == IndexName(3, "2025.06")
    assert parse_index("articles", "articles-v12") == IndexName(12, None)
    assert parse_index("articles", "articles-x-v1") is None
    assert parse_index("articles", "other-v1-2025.06") is None
    assert parse_index("articles", "articles-v1-2025.6") is None
    assert first_index("articles", "none", date(2025, 6, 3)) == "articles-v1"
    assert first_index("articles", "month", date(2025, 6, 3)) == "articles-v1-2025.06"


def test_the_next_generation_is_above_every_generation_of_either_layout():
    names = ["articles-v1", "articles-v2-2025.05", "articles-v2-2025.06", "articles-v10-2024.01", "other-v99"]
    assert next_generation("articles", names) == 11
    assert next_generation("articles", []) == 1
    assert current_generation("articles", ["articles-v2-2025.05", "articles-v3-2025.06"]) == 3


def article(published, fetched_at="2025-06-15T10:00:00Z"):
    return {"published": published, "fetched_at": fetched_at}


@pytest.mark.parametrize("published, month", [
    ("2025-06-14", "2025.06"),                 # the publication day
    ("2024-12-31T23:00:00+01:00", "2024.12"),  # a time: its day as the page states it
    (None, "2025.06"),                         # missing: the fetch month
    ("", "2025.06"),
    ("14.06.2025", "2025.06"),                 # unparseable: the fetch month
    ("2025-07-30", "2025.06"),                 # weeks after the fetch: a wrong date
    ("2025-06-17", "2025.06"),                 # a day or two ahead (time zones): still its day
    ("1970-01-01", "2025.06"),                 # the epoch default of some CMSs
])
def test_a_new_article_is_filed_under_its_publication_month_when_usable(published, month):
    assert month_of(article(published)) == month


def test_retention_picks_the_months_before_the_cutoff_of_every_generation():
    names = ["articles-v1", "articles-v2-2025.01", "articles-v2-2024.12", "articles-v3-2024.11", "articles-v2-2025.02",
             "other-v1-2020.01"]
    assert months_before("articles", names, "2025.01") == ["articles-v3-2024.11", "articles-v2-2024.12"]
    assert cutoff_month(date(2025, 3, 9), 3) == "2025.01"
    assert cutoff_month(date(2025, 1, 9), 1) == "2025.01"
    assert cutoff_month(date(2025, 1, 9), 13) == "2024.01"
    with pytest.raises(ValueError):
        months_before("articles", names, "2025-01")
    with pytest.raises(ValueError):
        cutoff_month(date(2025, 1, 9), 0)


def test_a_generation_swap_is_one_update_with_every_month():
    old = ["articles-v1-2025.05", "articles-v1-2025.06"]
    new = ["articles-v2-2025.05", "articles-v2-2025.06", "articles-v2-2025.07"]
    actions = swap_actions("articles", old, new)
    assert [a for a in actions if "remove" in a] == [{"remove": {"index": n, "alias": "articles"}} for n in old]
    added = {a["add"]["index"]: a["add"]["is_write_index"] for a in actions if "add" in a}
    assert added == {"articles-v2-2025.05": False, "articles-v2-2025.06": False, "articles-v2-2025.07": True}


class MonthIndices:
    """Just enough of Elasticsearch for placement: month indices holding {id: (hash, version)}."""

    def __init__(self, stored):
        self.stored, self.created, self.mgets = stored, [], 0
        outer = self

        class indices:
            @staticmethod
            async def create(index, aliases=None):
                outer.created.append((index, aliases))
                outer.stored.setdefault(index, {})

        self.indices = indices

    async def mget(self, docs, source_includes, realtime):
        assert realtime, "placement must see writes not yet refreshed"
        self.mgets += 1
        out = []
        for d in docs:
            hit = self.stored.get(d["_index"], {}).get(d["_id"])
            out.append({"_index": d["_index"], "_id": d["_id"], "found": bool(hit),
                        **({"_version": hit[1], "_source": {"content_hash": hit[0]}} if hit else {})})
        return {"docs": out}


def action(doc_id, published, fetched_at="2025-06-15T10:00:00Z"):
    return {"_index": "articles", "_id": doc_id, "version": 1, "_source": article(published, fetched_at)}


def test_an_article_stays_in_its_month_whatever_its_date_says_later():
    es = MonthIndices({"articles-v2-2025.05": {"a": ("h-a", 100)}, "articles-v2-2025.06": {}})
    layout = Layout("articles", 2, ["articles-v2-2025.05", "articles-v2-2025.06"], in_alias=True)
    actions = [
        action("a", "2025-06-10"),    # refetched with another date: stays in May, where it is
        action("b", None),            # new, no date: the fetch month
        action("c", "2025-04-02"),    # new, April: a new month index in the alias
        action("c", "2025-06-01"),    # the same article again in the batch: the same index
    ]
    stored = asyncio.run(place(es, layout, actions))
    assert [a["_index"] for a in actions] == ["articles-v2-2025.05", "articles-v2-2025.06", "articles-v2-2025.04",
                                             "articles-v2-2025.04"]
    assert [s and s[:2] for s in stored] == [("h-a", 100), None, None, None]
    assert es.created == [("articles-v2-2025.04", {"articles": {}})]
    assert "articles-v2-2025.04" in layout.months


def test_a_reindex_builds_months_outside_the_alias():
    es = MonthIndices({})
    layout = Layout("articles", 3, [], in_alias=False)
    actions = [action("a", "2025-01-02")]
    assert asyncio.run(place(es, layout, actions)) == [None]
    assert es.mgets == 0, "nothing to look in yet"
    assert es.created == [("articles-v3-2025.01", None)]


def test_a_month_reindex_swaps_out_every_month_of_the_old_generation_by_pattern():
    from newsflow.index.indices import generation_swap_actions

    serving = ["a-v1-2025.01", "a-v1-2025.02", "a-v1"]
    actions = generation_swap_actions("a", serving, ["a-v2-2025.01", "a-v2-2025.02"])
    assert actions == [{"remove": {"index": "a-v1", "alias": "a"}}, {"remove": {"index": "a-v1-*", "alias": "a"}},
                       {"add": {"index": "a-v2-2025.01", "alias": "a", "is_write_index": False}},
                       {"add": {"index": "a-v2-2025.02", "alias": "a", "is_write_index": True}}]
