"""The dashboard's pure parts: chart series, week ranges, counters to events/s, dead letters."""

from datetime import date, datetime, timezone

import orjson
import pytest

from newsflow.core.settings import Settings
from newsflow.search.monitor import stage_metrics
from newsflow.search.stats import (DeadLetterTally, RateHistory, Weeks, article_series, counter_totals,
                                   dead_letter_reason, entities_body, latest_date, time_axis, top_entities)


def test_time_axis_picks_the_bar_width_from_the_span():
    def aggs(first, last):
        return {"first": {"value_as_string": first}, "latest": {"value_as_string": last}}
    assert time_axis(aggs("2025-06-01", "2025-06-30"))[2] == "day"
    assert time_axis(aggs("2025-01-01", "2025-06-30"))[2] == "week"
    assert time_axis(aggs("2021-01-01", "2025-06-30"))[2] == "month"
    assert time_axis(aggs("1990-01-01", "2025-06-30"))[2] == "year"
    assert time_axis({"first": {"value": None}, "latest": {"value": None}}) is None


def test_article_series_keeps_the_top_values_and_sums_the_rest_as_other():
    aggs = {
        "top_site": {"buckets": [{"key": "a.org", "doc_count": 3}]},
        "top_language": {"buckets": [{"key": "de", "doc_count": 2}, {"key": "en", "doc_count": 2}]},
        "top_topic": {"buckets": []},
        "time": {"buckets": [
            {"key_as_string": "2025-06-01", "doc_count": 3, "site": {"buckets": [{"key": "a.org", "doc_count": 2}, {"key": "b.org", "doc_count": 1}]},
             "language": {"buckets": [{"key": "de", "doc_count": 2}, {"key": "en", "doc_count": 1}]}, "topic": {"buckets": []}},
            {"key_as_string": "2025-06-02", "doc_count": 1, "site": {"buckets": [{"key": "a.org", "doc_count": 1}]},
             "language": {"buckets": [{"key": "en", "doc_count": 1}]}, "topic": {"buckets": []}},
        ]},
    }
    series = article_series(aggs, "day")
    assert series["dates"] == ["2025-06-01", "2025-06-02"] and series["total"] == [3, 1]
    assert series["by"]["site"] == [{"key": "a.org", "counts": [2, 1]}, {"key": "other", "counts": [1, 0]}]
    assert series["by"]["language"] == [{"key": "de", "counts": [2, 0]}, {"key": "en", "counts": [1, 1]}]
    assert series["by"]["topic"] == [] and article_series(None)["dates"] == []


def test_weeks_are_seven_days_each_ending_with_until():
    weeks = Weeks(date(2025, 6, 24))
    assert weeks.this_week == (date(2025, 6, 18), date(2025, 6, 24))
    assert weeks.last_week == (date(2025, 6, 11), date(2025, 6, 17))
    assert Weeks.range(weeks.this_week)["range"]["published"] | {} == {
        "gte": "2025-06-18", "lt": "2025-06-25", "format": "strict_date_optional_time||yyyy-MM-dd"}
    body = entities_body(weeks)
    assert body["query"]["bool"]["filter"][0]["range"]["published"]["gte"] == "2025-06-11"
    assert body["query"]["bool"]["filter"][1] == {"bool": {"must_not": [{"term": {"removed": True}}]}}  # taken down
    assert body["aggs"]["persons"]["terms"]["order"][0] == {"this_week": "desc"}


def test_latest_date_is_never_in_the_future():
    today = date(2026, 1, 1)
    assert latest_date({"latest": {"value_as_string": "2025-06-24"}}, today) == date(2025, 6, 24)
    assert latest_date({"latest": {"value_as_string": "2030-01-01"}}, today) == today
    assert latest_date(None, today) == today


def test_top_entities_leave_out_names_only_last_week_had():
    def bucket(name, now, before):
        return {"key": name, "this_week": {"doc_count": now}, "last_week": {"doc_count": before}}
    aggs = {"persons": {"buckets": [bucket("A", 3, 1), bucket("B", 0, 5)]}}
    out = top_entities(aggs, Weeks(date(2025, 6, 24)))
    assert out["persons"] == [{"name": "A", "this_week": 3, "last_week": 1}]
    assert out["organizations"] == [] and out["this_week"] == ["2025-06-18", "2025-06-24"]


METRICS = """# HELP newsflow_events_in_total Events read
# TYPE newsflow_events_in_total counter
newsflow_events_in_total{stage="parse"} 12.0
newsflow_events_in_created{stage="parse"} 1.7e9
# HELP newsflow_events_out_total Events written
# TYPE newsflow_events_out_total counter
newsflow_events_out_total{stage="parse"} 10.0
# HELP newsflow_dead_letters_total Dead letters
# TYPE newsflow_dead_letters_total counter
newsflow_dead_letters_total{error="InvalidEvent",stage="parse"} 1.0
newsflow_dead_letters_total{error="NoArticle",stage="parse"} 1.0
# HELP process_cpu_seconds_total CPU
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 3.2
"""


def test_counter_totals_read_a_stage_s_metrics():
    assert counter_totals(METRICS) == {"parse": {"in": 12.0, "out": 10.0, "dead": 2.0}}
    assert counter_totals("") == {}


def test_rates_are_increases_over_the_window_and_survive_a_restart():
    history = RateHistory(keep_s=100)
    for t, total in ((0, 0), (10, 20), (20, 40), (30, 5)):  # restarted between 20 and 30: +5, not -35
        history.add(t, "x", {"in": total, "out": total / 2, "dead": 0})
    assert history.rate("x", 30, 30) == {"in": 45 / 30, "out": 22.5 / 30, "dead": 0}
    assert history.rate("x", 30, 15) == {"in": 5 / 10, "out": 2.5 / 10, "dead": 0}   # only the samples at 20 and 30
    assert history.rate("x", 30, 5) is None and history.rate("y", 30, 60) is None
    assert [p["in"] for p in history.series("x", 20)] == [2.0, 0.5]  # 40 in 20 s, then the last (short) step
    history.add(200, "x", {"in": 1, "out": 0, "dead": 0})
    assert len(history.samples["x"]) == 1  # older than keep_s: dropped


def test_dead_letters_counted_by_reason_and_time():
    def letter(stage, error):
        return orjson.dumps({"schema": "news.dlq/1", "payload": {"stage": stage, "error": error}})
    assert dead_letter_reason(letter("fetch", "FetchFailed")) == "fetch: FetchFailed"
    assert dead_letter_reason(b"not json") == dead_letter_reason(b'{"a": 1}') == dead_letter_reason(None) == "unreadable"
    tally = DeadLetterTally()
    hour = 3_600_000
    start = int(datetime(2025, 6, 1, tzinfo=timezone.utc).timestamp() * 1000)
    for offset, reason in ((0, "fetch: FetchFailed"), (10, "fetch: FetchFailed"), (2 * hour, "parse: NoArticle")):
        tally.add(start + offset, reason)
    summary = tally.summary()
    assert summary["total"] == 3 and summary["by_reason"][0] == {"reason": "fetch: FetchFailed", "count": 2}
    assert summary["step_hours"] == 1 and [b["counts"] for b in summary["over_time"]] == [
        {"fetch: FetchFailed": 2}, {}, {"parse: NoArticle": 1}]
    assert summary["over_time"][0]["start"] == "2025-06-01T00:00:00Z"
    tally.add(start + 100 * hour, "index: RejectedByElasticsearch")   # 100 h span: 3 h steps
    wide = tally.summary(max_buckets=48)
    assert wide["step_hours"] == 3 and len(wide["over_time"]) <= 48
    assert sum(sum(b["counts"].values()) for b in wide["over_time"]) == 4
    assert DeadLetterTally().summary()["over_time"] == []


def test_stage_metrics_urls_default_to_this_host_and_are_checked(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_WEB_PORT_BASE", "7000")
    monkeypatch.delenv("NEWSFLOW_STAGE_METRICS_URLS", raising=False)
    assert stage_metrics(Settings())[0] == ("fetch", "http://127.0.0.1:7001/metrics")
    monkeypatch.setenv("NEWSFLOW_STAGE_METRICS_URLS", "parse=http://a:1/metrics,parse=http://b:1/metrics")
    assert stage_metrics(Settings()) == [("parse", "http://a:1/metrics"), ("parse", "http://b:1/metrics")]
    monkeypatch.setenv("NEWSFLOW_STAGE_METRICS_URLS", "parse:a:1")
    with pytest.raises(ValueError):
        stage_metrics(Settings())
