"""Where an article's fetch-to-searchable time goes, hop by hop, from timestamps the pipeline
already leaves: when the site saw the request (fetch start), when each stage's output landed
on its topic (the Kafka message timestamp, set by the producer as it sends), when the index
stage took the document (its `indexed_at`) and when a search first found it.

    hop_breakdown({id: {"submitted": t, "fetch_start": t, "news.raw": t, ...}}, HOPS)

Times in seconds (wall clock, one machine). A hop's time includes the Kafka hand-over and the
queue in front of the next stage: "parse" is news.raw -> news.parsed, i.e. the parse stage's
consumer fetch, its wait behind earlier pages and the parsing itself.
"""

from __future__ import annotations

import statistics

# (hop name, from mark, to mark), in the order an article passes them.
HOPS = (
    ("fetch_queue", "submitted", "fetch_start"),                    # request on Kafka -> site sees the GET
    ("fetch", "fetch_start", "news.raw"),                           # download, politeness, raw event sent
    ("parse", "news.raw", "news.parsed"),
    ("enrich", "news.parsed", "news.enrich.clustering"),
    ("cluster", "news.enrich.clustering", "news.enriched"),
    ("index_wait", "news.enriched", "indexed_at"),                  # consumer fetch + the index batch window
    ("index_write_refresh", "indexed_at", "searchable"),            # mget + bulk + refresh + the poll's granularity
)


def _pcts(values: list[float]) -> dict:
    if not values:
        return {}
    if len(values) == 1:
        v = round(values[0], 3)
        return {"p50": v, "p95": v, "p99": v, "max": v, "mean": v, "n": 1}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(values), 3),
            "mean": round(statistics.fmean(values), 3), "n": len(values)}


def hop_breakdown(marks: dict[str, dict[str, float]], hops=HOPS, slowest_share: float = 0.05) -> dict:
    """Per hop, the percentiles of its time over the articles that have both marks; and for the
    slowest `slowest_share` of articles end to end (fetch start -> searchable), the mean time
    of each hop: which hop the tail comes from."""
    out = {name: _pcts([m[b] - m[a] for m in marks.values() if a in m and b in m]) for name, a, b in hops}
    total = {i: m["searchable"] - m["fetch_start"] for i, m in marks.items() if "searchable" in m and "fetch_start" in m}
    if total:
        slow = sorted(total, key=total.get, reverse=True)[:max(1, round(len(total) * slowest_share))]
        out["slowest_articles"] = {
            "articles": len(slow), "end_to_end_mean_s": round(statistics.fmean(total[i] for i in slow), 3),
            "hop_mean_s": {name: round(statistics.fmean(marks[i][b] - marks[i][a] for i in slow), 3)
                           for name, a, b in hops if all(a in marks[i] and b in marks[i] for i in slow)}}
    return out
