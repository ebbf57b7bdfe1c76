"""The dashboard against the real pipeline: articles over time and top entities answered from
Elasticsearch and checked against it; events/s scraped from the stages' /metrics, consumer lag
from Kafka and dead letters read from news.dlq; the page itself in headless Chromium.

The dashboard's search API is a process of its own here, scraping every second, with one
extra parse "instance" whose metrics URL nobody answers: it must show as down, not break."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from newsflow.stages import WEB_PORT_OFFSETS as STAGE_WEB_PORT_OFFSETS

from .conftest import REPO, _ok, wait_until
from .helpers import chromium_page, es, indexed, refresh_alias, submit
from .ports import listen_port

pytestmark = pytest.mark.integration

PAGES = ("mark-zuckerbergs-seltsame-aktionen.html", "berlin-tram-extension.html", "river-cleanup-volunteers.html",
         "chip-startup-funding.html", "stadtfest-programm.html")
SCREENSHOT = REPO / ".var" / "screenshots" / "dashboard.png"
HISTORY_S = "1800"  # sparklines of 30 minutes: a point per 15 s, so the minutes of this module make several


def dashboard_urls(test_env, nobody: int | None = None) -> str:
    """Every stage's metrics URL, and (with `nobody`) an extra parse "instance" nobody answers."""
    base_port = int(test_env["NEWSFLOW_WEB_PORT_BASE"])
    urls = [f"{stage}=http://127.0.0.1:{base_port + offset}/metrics" for stage, offset in STAGE_WEB_PORT_OFFSETS.items()]
    if nobody is not None:
        urls.append(f"parse=http://127.0.0.1:{nobody}/metrics")
    return ",".join(urls)


@contextmanager
def search_api(test_env: dict, metrics_urls: str):
    """A `newsflow serve search` process scraping `metrics_urls` every second; yields its base URL."""
    port = listen_port()
    env = {**test_env, "NEWSFLOW_SEARCH_PORT": str(port), "NEWSFLOW_DASHBOARD_SCRAPE_INTERVAL": "1",
           "NEWSFLOW_DASHBOARD_RATE_WINDOW": "300", "NEWSFLOW_DASHBOARD_HISTORY": HISTORY_S,
           "NEWSFLOW_STAGE_METRICS_URLS": metrics_urls}
    with open(REPO / ".var" / "logs" / f"test-dashboard-{port}.log", "ab") as log:
        proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "newsflow"), "serve", "search"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(30)


@pytest.fixture(scope="module")
def dashboard(services, test_env, settings, sample_site):
    with search_api(test_env, dashboard_urls(test_env, listen_port())) as base:
        wait_until(lambda: _ok(f"{base}/health"), 60, "the dashboard's search API")
        assert httpx.get(f"{base}/stats/pipeline", timeout=60).status_code == 200  # starts the monitor
        # Flow starts after the first scrape of every stage, so every stage's events/s must rise above zero.
        wait_until(lambda: all(i["at"] for s in get(f"{base}/stats/pipeline")["stages"] for i in s["instances"] if i["up"] is not False)
                   and all(any(i["up"] for i in s["instances"]) for s in get(f"{base}/stats/pipeline")["stages"]),
                   60, "a first scrape of every stage")
        ids = submit([f"{sample_site}/{page}?dashboard=1" for page in PAGES] + [f"{sample_site}/no-such-page.html?dashboard=1"])
        for article_id in ids[:-1]:
            wait_until(lambda i=article_id: indexed(settings, i), 180, f"article {article_id}")
        refresh_alias(settings)
        yield base, ids


def get(url, **params):
    response = httpx.get(url, params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def es_count(settings, query: dict) -> int:
    client = es(settings)
    try:
        return client.count(index=settings.index_alias, query=query)["count"]
    finally:
        client.close()


def test_articles_over_time_add_up_to_the_index(dashboard, settings):
    base, _ = dashboard
    dated = {"bool": {"filter": [{"range": {"published": {"lte": datetime.now(timezone.utc).isoformat()}}}],
                      "must_not": [{"term": {"removed": True}}]}}

    def settled():  # stragglers of other tests may land between the two reads
        data = get(f"{base}/stats/articles")
        return data if sum(data["total"]) == es_count(settings, dated) else None

    data = wait_until(settled, 60, "the chart to count every dated article")
    assert data["interval"] in ("day", "week", "month", "year") and len(data["dates"]) == len(data["total"])
    assert sum(data["total"]) >= len(PAGES)
    for name in ("site", "language"):  # every article has one site and one language
        per_date = [sum(s["counts"][i] for s in data["by"][name]) for i in range(len(data["dates"]))]
        assert per_date == data["total"], name
    assert {"de", "en"} <= {s["key"] for s in data["by"]["language"]}
    assert data["by"]["topic"], "the sample pages have topics"


def test_top_entities_this_week_against_last_week_match_the_index(dashboard, settings):
    base, ids = dashboard
    zuckerberg = indexed(settings, ids[0])
    until = date.fromisoformat(zuckerberg["published"][:10])

    def mismatches():
        data = get(f"{base}/stats/entities", until=until.isoformat())
        wrong = []
        for kind, field in (("persons", "entities.persons"), ("organizations", "entities.organizations"),
                            ("locations", "entities.locations")):
            for row in data[kind]:
                for week in ("this_week", "last_week"):
                    start, end = data[week]
                    expected = es_count(settings, {"bool": {"filter": [
                        {"term": {field: row["name"]}},
                        {"range": {"published": {"gte": start, "lte": f"{end}T23:59:59.999Z"}}}],
                        "must_not": [{"term": {"removed": True}}]}})
                    if row[week] != expected:
                        wrong.append((kind, row, week, expected))
        return data, wrong

    wait_until(lambda: not mismatches()[1], 60, "counts equal to the index's")
    data, wrong = mismatches()
    assert not wrong
    assert data["this_week"] == [(until - timedelta(days=6)).isoformat(), until.isoformat()]
    assert "Mark Zuckerberg" in {row["name"] for row in data["persons"]}
    a_week_later = get(f"{base}/stats/entities", until=(until + timedelta(days=7)).isoformat())
    assert "Mark Zuckerberg" not in {row["name"] for row in a_week_later["persons"]}  # only last week now
    assert get(f"{base}/stats/entities", until="2001-01-01")["persons"] == []
    default = get(f"{base}/stats/entities")  # the week of the newest article, not an empty one
    assert default["persons"] and date.fromisoformat(default["this_week"][1]) <= datetime.now(timezone.utc).date()


def test_pipeline_health_shows_rates_lag_and_dead_letters(dashboard):
    base, _ = dashboard

    def flowed():
        data = get(f"{base}/stats/pipeline")
        rates = {s["stage"]: (s["events_per_s"] or {}).get("in", 0) for s in data["stages"]}
        reasons = {r["reason"] for r in data["dead_letters"]["by_reason"]}
        return data if all(rates[stage] > 0 for stage in STAGE_WEB_PORT_OFFSETS) and "fetch: FetchFailed" in reasons else None

    data = wait_until(flowed, 180, "events/s in every stage and the 404's dead letter")
    stages = {s["stage"]: s for s in data["stages"]}
    assert set(stages) == set(STAGE_WEB_PORT_OFFSETS)
    parse = stages["parse"]["instances"]
    assert sorted(i["up"] for i in parse) == [False, True] and any(i["error"] for i in parse)
    assert any(point["in"] > 0 for point in stages["index"]["over_time"])
    assert data["kafka_error"] is None and {row["stage"] for s in data["stages"] for row in s["inputs"]} == set(stages)
    over_time = data["dead_letters"]["over_time"]
    assert sum(sum(b["counts"].values()) for b in over_time) == data["dead_letters"]["total"] >= 1
    # consumer lag comes from the groups' committed offsets: once the stages are done, none lags
    wait_until(lambda: all(s["lag"] == 0 for s in get(f"{base}/stats/pipeline")["stages"]), 120, "no consumer lag")


def test_a_restarted_api_still_shows_the_history(dashboard, test_env, settings):
    """A new search API process (as after a restart) answers its first /stats/pipeline with the
    events/s the first one scraped before it started, read back from Elasticsearch."""
    base, _ = dashboard
    wait_until(lambda: any(p["in"] > 0 for s in get(f"{base}/stats/pipeline")["stages"] if s["stage"] == "index"
                           for p in s["over_time"]), 180, "events/s of the index stage in the first API's history")

    def stored():
        client = es(settings)
        try:
            index = f"{settings.index_alias}-dashboard-samples"
            client.indices.refresh(index=index)
            return client.count(index=index, query={"bool": {"filter": [{"term": {"stage": "index"}}, {"range": {"in": {"gt": 0}}}]}})["count"]
        finally:
            client.close()

    wait_until(stored, 60, "the samples in Elasticsearch")
    # the flow is over, so the new API's own scrapes see the index stage idle: events/s of it
    # in its first answer can only come from the history it read back
    wait_until(lambda: all(s["lag"] == 0 for s in get(f"{base}/stats/pipeline")["stages"]), 120, "no consumer lag")
    with search_api(test_env, dashboard_urls(test_env)) as again:
        wait_until(lambda: _ok(f"{again}/health"), 60, "the restarted search API")
        data = get(f"{again}/stats/pipeline")  # its first answer
        assert data["history"]["error"] is None and data["history"]["restored"] > 0, data["history"]
        index = next(s for s in data["stages"] if s["stage"] == "index")
        # (points, not times: the last point of a 15 s step may end after the restart)
        assert any(p["in"] > 0 for p in index["over_time"]), index["over_time"]


def test_dashboard_page_in_chromium(dashboard):
    base, _ = dashboard
    wait_until(lambda: get(f"{base}/stats/pipeline")["dead_letters"]["total"] >= 1, 120, "a dead letter to show")
    with chromium_page(1400, 1000) as page:
        page.goto(f"{base}/dashboard")
        for chart in ("site", "language", "topic"):
            page.wait_for_selector(f"#articles-{chart} rect")
        page.wait_for_selector("#entities-persons td")
        assert page.locator("#entities-persons td").count() >= 4  # a row: name, this week, last week, change
        page.wait_for_selector("#stages tr[data-stage=index] td.lag")
        assert page.locator("#stages tbody tr").count() == 4
        assert page.locator("#stages tr[data-stage=index] td.lag").inner_text().isdigit()
        page.wait_for_selector("#dlq-chart rect")
        assert "fetch: FetchFailed" in page.locator("#dlq-reasons").inner_text()
        assert "1/2 up" in page.locator("#stages tr[data-stage=parse]").inner_text()
        assert all(not t.strip() for t in page.locator(".err").all_inner_texts())
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
