"""Memory over a long end-to-end run: RSS of each service against the articles done so far,
written to the result file as the run goes (a run stopped early still leaves its samples), and
the growth per 1,000 articles after a warm-up, from a least-squares line.

Pure parts (`slope_per_1000`, `growth_summary`) are tested in
tests/unit/test_bench_rss.py; `RssLog` is the thread the e2e bench runs beside the services.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable


def slope_per_1000(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y (MB) against x (articles), times 1,000; None with fewer than
    two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return 1000 * sxy / sxx


def growth_summary(samples: list[dict], warmup_articles: int) -> dict:
    """Per service, from samples {"articles": n, "rss_mb": {service: MB}}: the slope in MB per
    1,000 articles over the samples at or after `warmup_articles`, and RSS there and at the end."""
    after = [s for s in samples if s["articles"] >= warmup_articles]
    services = sorted({name for s in samples for name in s["rss_mb"]})
    out = {}
    for name in services:
        points = [(s["articles"], s["rss_mb"][name]) for s in after if name in s["rss_mb"]]
        slope = slope_per_1000(points)
        out[name] = {"mb_per_1000_articles": None if slope is None else round(slope, 2),
                     "mb_after_warmup": points[0][1] if points else None,
                     "mb_at_end": points[-1][1] if points else None,
                     "articles_from": points[0][0] if points else None,
                     "articles_to": points[-1][0] if points else None,
                     "max_mb": max((y for _, y in points), default=None)}
    return out


def read_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return None if kb is None else round(kb / 1024, 1)


class RssLog:
    """Every `every_s` seconds: each service's RSS beside the articles done so far; every
    `write_every_s` the figures so far are written to `path` by `write(samples)`, so a stopped
    run leaves them."""

    def __init__(self, pids: Callable[[], dict[str, int]], articles: Callable[[], int],
                 write: Callable[[list[dict]], None], every_s: float = 5.0, write_every_s: float = 30.0):
        self.pids, self.articles, self.write = pids, articles, write
        self.every_s, self.write_every_s = every_s, write_every_s
        self.samples: list[dict] = []
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        rss = {name: mb for name, pid in self.pids().items() if (mb := read_rss_mb(pid)) is not None}
        self.samples.append({"s": round(time.monotonic() - self._started, 1), "articles": self.articles(), "rss_mb": rss})

    def _run(self) -> None:
        last_write = time.monotonic()
        while not self._stop.wait(self.every_s):
            self.sample()
            if time.monotonic() - last_write >= self.write_every_s:
                self._write()
                last_write = time.monotonic()

    def _write(self) -> None:
        try:
            self.write(list(self.samples))
        except Exception as exc:  # noqa: BLE001 - a progress file that failed once is written next time
            print(f"rss log: could not write progress: {exc}", flush=True)

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        self.sample()

