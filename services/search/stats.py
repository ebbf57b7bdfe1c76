"""The dashboard's pure parts: Elasticsearch request bodies for articles over time and top
entities week against week, their answers turned into chart series, and the pipeline's health
from what the search API can reach wherever the stages run: their Prometheus /metrics text
(events in and out per stage, turned into events/s) and the dead letters on news.dlq (counted
by reason and time)."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import orjson
from prometheus_client.parser import text_string_to_metric_families

from .query import NOT_REMOVED  # articles taken down count nowhere, as in search

DIMENSIONS = {"site": "site", "language": "language", "topic": "topic"}
ENTITY_KINDS = {"persons": "entities.persons", "organizations": "entities.organizations", "locations": "entities.locations"}
TOP_SERIES = 6      # series per dimension on the chart; the rest is summed as "other"
TOP_ENTITIES = 10
# The bar width for a time span: the smallest calendar interval giving at most about 50 bars.
INTERVALS = (("day", 50), ("week", 7 * 52), ("month", 31 * 60), ("year", None))


def _published_until(now: datetime) -> dict:
    """Articles with a publication date that is not in the future (a wrong date would stretch
    the time axis)."""
    return {"range": {"published": {"lte": now.isoformat()}}}


# ---- articles over time --------------------------------------------------------------------

def span_body(now: datetime) -> dict:
    """The first and the newest publication date (not in the future): the time axis."""
    return {"size": 0, "query": {"bool": {"filter": [_published_until(now), NOT_REMOVED]}},
            "aggs": {"first": {"min": {"field": "published", "format": "yyyy-MM-dd"}},
                     "latest": {"max": {"field": "published", "format": "yyyy-MM-dd"}}}}


def _day(aggregations: dict | None, name: str) -> date | None:
    value = (aggregations or {}).get(name, {}).get("value_as_string")
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def time_axis(aggregations: dict | None) -> tuple[date, date, str] | None:
    """(first day, last day, calendar interval) from span_body's answer; None when empty."""
    first, last = _day(aggregations, "first"), _day(aggregations, "latest")
    if not first or not last:
        return None
    days = (last - first).days + 1
    return first, last, next(name for name, most in INTERVALS if most is None or days <= most)


def articles_body(now: datetime, axis: tuple[date, date, str]) -> dict:
    first, last, interval = axis
    return {
        "size": 0,
        "query": {"bool": {"filter": [_published_until(now), NOT_REMOVED]}},
        "aggs": {
            **{f"top_{name}": {"terms": {"field": f, "size": TOP_SERIES}} for name, f in DIMENSIONS.items()},
            "time": {
                "date_histogram": {"field": "published", "calendar_interval": interval, "format": "yyyy-MM-dd",
                                   "min_doc_count": 0,
                                   "extended_bounds": {"min": first.isoformat(), "max": last.isoformat()}},
                "aggs": {name: {"terms": {"field": f, "size": 100}} for name, f in DIMENSIONS.items()},
            },
        },
    }


def article_series(aggregations: dict | None, interval: str | None = None) -> dict:
    """{"interval", "dates", "total", "by": {dimension: [{"key", "counts"}]}}: one count per date
    for the total and for each of the top values of site, language and topic; the others of a
    dimension are summed into an "other" series when there are any."""
    aggregations = aggregations or {}
    time = aggregations.get("time", {})
    buckets = time.get("buckets", [])
    dates = [b["key_as_string"] for b in buckets]
    total = [b["doc_count"] for b in buckets]
    by = {}
    for name in DIMENSIONS:
        top = [b["key"] for b in aggregations.get(f"top_{name}", {}).get("buckets", [])]
        per_bucket = [{t["key"]: t["doc_count"] for t in b.get(name, {}).get("buckets", [])} for b in buckets]
        series = [{"key": key, "counts": [counts.get(key, 0) for counts in per_bucket]} for key in top]
        other = [sum(n for key, n in counts.items() if key not in top) for counts in per_bucket]
        if any(other):
            series.append({"key": "other", "counts": other})
        by[name] = series
    return {"interval": interval, "dates": dates, "total": total, "by": by}


# ---- top entities, this week against last week -----------------------------------------------

@dataclass(frozen=True)
class Weeks:
    """Two weeks of seven days each, the later one ending with `until` (inclusive)."""
    until: date

    @property
    def this_week(self) -> tuple[date, date]:
        return self.until - timedelta(days=6), self.until

    @property
    def last_week(self) -> tuple[date, date]:
        return self.until - timedelta(days=13), self.until - timedelta(days=7)

    @staticmethod
    def range(days: tuple[date, date]) -> dict:
        return {"range": {"published": {"gte": days[0].isoformat(), "lt": (days[1] + timedelta(days=1)).isoformat(),
                                        "format": "strict_date_optional_time||yyyy-MM-dd"}}}


def latest_date(aggregations: dict | None, today: date) -> date:
    """From span_body's answer, the newest publication date up to today: the default end of
    "this week", so that the dashboard of an archive (or of the sample pages) is not empty."""
    latest = _day(aggregations, "latest")
    return min(latest, today) if latest else today


def entities_body(weeks: Weeks) -> dict:
    both = (weeks.last_week[0], weeks.this_week[1])
    return {
        "size": 0,
        "query": {"bool": {"filter": [Weeks.range(both), NOT_REMOVED]}},
        "aggs": {kind: {"terms": {"field": f, "size": TOP_ENTITIES, "order": [{"this_week": "desc"}, {"_key": "asc"}]},
                        "aggs": {"this_week": {"filter": Weeks.range(weeks.this_week)},
                                 "last_week": {"filter": Weeks.range(weeks.last_week)}}}
                 for kind, f in ENTITY_KINDS.items()},
    }


def top_entities(aggregations: dict | None, weeks: Weeks) -> dict:
    """Per kind, the names most mentioned this week (articles naming them), with last week's
    count beside; a name only last week had is left out."""
    aggregations = aggregations or {}
    out: dict = {"this_week": [d.isoformat() for d in weeks.this_week],
                 "last_week": [d.isoformat() for d in weeks.last_week]}
    for kind in ENTITY_KINDS:
        rows = [{"name": b["key"], "this_week": b["this_week"]["doc_count"], "last_week": b["last_week"]["doc_count"]}
                for b in aggregations.get(kind, {}).get("buckets", [])]
        out[kind] = [row for row in rows if row["this_week"] > 0]
    return out


# ---- events per second, from the stages' Prometheus metrics ----------------------------------

COUNTERS = {"newsflow_events_in": "in", "newsflow_events_out": "out", "newsflow_dead_letters": "dead"}


def counter_totals(text: str) -> dict[str, dict[str, float]]:
    """stage -> {"in", "out", "dead"} totals from a service's /metrics text."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: {"in": 0.0, "out": 0.0, "dead": 0.0})
    for family in text_string_to_metric_families(text):
        kind = COUNTERS.get(family.name)
        if not kind:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and "stage" in sample.labels:
                totals[sample.labels["stage"]][kind] += sample.value
    return dict(totals)


def _increase(before: float, after: float) -> float:
    """A counter's increase; a smaller value means the service restarted from zero."""
    return after - before if after >= before else after


@dataclass
class RateHistory:
    """Samples of each stage's counters over time, kept for `keep_s`; events/s over a window
    like Prometheus' rate()."""
    keep_s: float = 3600.0
    samples: dict[str, deque] = field(default_factory=dict)   # stage -> deque of (t, totals)

    def add(self, t: float, stage: str, totals: dict[str, float]) -> None:
        queue = self.samples.setdefault(stage, deque())
        queue.append((t, dict(totals)))
        while queue and queue[0][0] < t - self.keep_s:
            queue.popleft()

    def rate(self, stage: str, now: float, window_s: float) -> dict[str, float] | None:
        """Events/s in and out over the last `window_s` (None with fewer than two samples)."""
        recent = [s for s in self.samples.get(stage, ()) if s[0] >= now - window_s]
        if len(recent) < 2 or recent[-1][0] <= recent[0][0]:
            return None
        span = recent[-1][0] - recent[0][0]
        return {kind: round(sum(_increase(a[1].get(kind, 0), b[1].get(kind, 0)) for a, b in zip(recent, recent[1:])) / span, 3)
                for kind in ("in", "out", "dead")}

    def series(self, stage: str, step_s: float) -> list[dict]:
        """Events/s in and out of the stage, one point per `step_s` of samples (the last one
        maybe shorter): [{"t", "in", "out"}]."""
        queue = list(self.samples.get(stage, ()))
        points, increase, span = [], {"in": 0.0, "out": 0.0}, 0.0
        for (t0, before), (t1, after) in zip(queue, queue[1:]):
            for kind in increase:
                increase[kind] += _increase(before.get(kind, 0), after.get(kind, 0))
            span += t1 - t0
            if span >= step_s or t1 == queue[-1][0]:  # the last point covers what there is of its step
                points.append({"t": t1, **{kind: round(n / span, 3) for kind, n in increase.items()}})
                increase, span = {"in": 0.0, "out": 0.0}, 0.0
        return points


# ---- dead letters by reason over time --------------------------------------------------------

HOUR_MS = 3_600_000
STEPS_H = (1, 3, 6, 12, 24, 24 * 7)


def dead_letter_reason(value: bytes | None) -> str:
    """"stage: error" of a news.dlq message; "unreadable" for one that is not a dead letter."""
    try:
        payload = orjson.loads(value or b"")["payload"]
        return f"{payload['stage']}: {payload['error']}"
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "unreadable"


@dataclass
class DeadLetterTally:
    """Dead letters counted by reason and hour, as read from news.dlq (by message time)."""
    hours: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: int = 0

    def add(self, timestamp_ms: int, reason: str) -> None:
        self.hours[timestamp_ms // HOUR_MS][reason] += 1
        self.by_reason[reason] += 1
        self.total += 1

    def summary(self, max_buckets: int = 48) -> dict:
        """Totals by reason (most first), and counts per reason in at most `max_buckets` steps
        of 1 h, 3 h, 6 h, 12 h, a day or a week, from the first dead letter to the last."""
        reasons = sorted(self.by_reason, key=lambda r: (-self.by_reason[r], r))
        out = {"total": self.total, "by_reason": [{"reason": r, "count": self.by_reason[r]} for r in reasons],
               "step_hours": None, "over_time": []}
        if not self.hours:
            return out
        first, last = min(self.hours), max(self.hours)
        step = next((s for s in STEPS_H if (last - first) // s + 1 <= max_buckets), STEPS_H[-1])
        start = first - first % step
        buckets: dict[int, dict[str, int]] = {}
        for hour, counts in self.hours.items():
            bucket = buckets.setdefault(hour - (hour - start) % step, defaultdict(int))
            for reason, n in counts.items():
                bucket[reason] += n
        out["step_hours"] = step
        out["over_time"] = [{"start": datetime.fromtimestamp(h * 3600, timezone.utc).isoformat().replace("+00:00", "Z"),
                             "counts": dict(buckets.get(h, {}))}
                            for h in range(start, last + 1, step)]
        return out
