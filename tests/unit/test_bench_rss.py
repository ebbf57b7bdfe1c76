"""The long run's memory figures (bench/rss_log.py) and the services' heap count (core/memory.py)."""

import json

from bench.rss_log import RssLog, growth_summary, slope_per_1000
from newsflow.core.memory import MemoryDebug, top_types


def test_slope_is_mb_per_1000_articles():
    assert slope_per_1000([(1000, 100.0), (2000, 102.0), (3000, 104.0)]) == 2.0
    assert slope_per_1000([(1000, 100.0), (2000, 100.0)]) == 0.0
    assert slope_per_1000([(1000, 100.0)]) is None
    assert slope_per_1000([(1000, 100.0), (1000, 120.0)]) is None


def test_growth_summary_leaves_out_the_warmup():
    samples = [{"articles": 0, "rss_mb": {"enrich": 300.0}},     # loading models: not growth
               {"articles": 500, "rss_mb": {"enrich": 380.0}},
               {"articles": 1000, "rss_mb": {"enrich": 380.0, "index": 70.0}},
               {"articles": 5000, "rss_mb": {"enrich": 380.0, "index": 78.0}}]
    out = growth_summary(samples, warmup_articles=1000)
    assert out["enrich"]["mb_per_1000_articles"] == 0.0
    assert out["index"]["mb_per_1000_articles"] == 2.0
    assert (out["enrich"]["articles_from"], out["enrich"]["articles_to"]) == (1000, 5000)
    assert growth_summary(samples, warmup_articles=0)["enrich"]["mb_per_1000_articles"] > 0


def test_rss_log_writes_its_samples_while_running(tmp_path):
    import os
    out = tmp_path / "progress.json"
    done = {"n": 0}

    def count() -> int:
        done["n"] += 10
        return done["n"]

    log = RssLog(lambda: {"me": os.getpid()}, count, lambda samples: out.write_text(json.dumps(samples)),
                 every_s=0.01, write_every_s=0.0)
    with log:
        for _ in range(500):  # poll, no fixed sleep: the thread writes within its first samples
            if out.exists() and json.loads(out.read_text()):
                break
            import time
            time.sleep(0.02)
    written = json.loads(out.read_text())
    assert written and written[0]["rss_mb"]["me"] > 0
    assert [s["articles"] for s in log.samples] == sorted(s["articles"] for s in log.samples)


def test_heap_count_shows_what_grew():
    class Leaky:
        pass

    debug = MemoryDebug(trace_frames=0)
    first = debug.report(take_baseline=True)
    assert first["objects"] > 0 and "grown_types" not in first
    kept = [Leaky() for _ in range(5000)]
    grown = dict(debug.report()["grown_types"])
    assert grown.get("test_heap_count_shows_what_grew.<locals>.Leaky") == 5000
    assert len(kept) == 5000
    assert top_types({"a": 1, "b": 3, "c": 3}, top=2) == [("b", 3), ("c", 3)]


def test_hop_breakdown_names_the_hop_the_tail_comes_from():
    from bench.hops import hop_breakdown

    hops = (("work", "fetch_start", "done"), ("refresh", "done", "searchable"))
    marks = {f"a{i}": {"fetch_start": 0.0, "done": 0.1, "searchable": 1.1} for i in range(19)}
    marks["slow"] = {"fetch_start": 0.0, "done": 3.0, "searchable": 4.0}   # one article stuck in "work"
    marks["partial"] = {"fetch_start": 0.0}                                  # never searchable: no hop
    out = hop_breakdown(marks, hops)
    assert out["work"]["n"] == 20 and out["work"]["p50"] == 0.1 and out["work"]["max"] == 3.0
    assert out["refresh"]["p95"] == 1.0
    assert out["slowest_articles"]["articles"] == 1
    assert out["slowest_articles"]["hop_mean_s"] == {"work": 3.0, "refresh": 1.0}
