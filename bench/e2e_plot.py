"""A hand-written SVG of the end-to-end benchmark (no plotting library needed): throughput,
fetch-to-searchable latency percentiles, and peak RSS per service, as three bar panels."""

from __future__ import annotations

from html import escape
from pathlib import Path

COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948")


def _panel(x0: int, title: str, unit: str, bars: list[tuple[str, float, str]], width=260, height=220) -> str:
    top = max((v for _, v, _ in bars), default=1) or 1
    step = width / max(1, len(bars))
    parts = [f'<text x="{x0 + width / 2}" y="20" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{x0}" y1="{45 + height}" x2="{x0 + width}" y2="{45 + height}" stroke="#333"/>']
    for i, (label, value, colour) in enumerate(bars):
        h = height * value / top
        x = x0 + i * step + step * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{45 + height - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{41 + height - h:.1f}" text-anchor="middle" font-size="11">'
                     f'{value:g}{escape(unit)}</text>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{61 + height}" text-anchor="middle" font-size="11">{escape(label)}</text>')
    return "\n".join(parts)


def write_svg(result: dict, path: Path) -> None:
    services, baseline, paced = result["services"], result.get("baseline"), result.get("paced")
    throughput = [("services", services["articles_per_s"], COLOURS[0])]
    latency = [(f"svc {p}", services["latency_s"][p], COLOURS[0]) for p in ("p50", "p95", "p99")]
    if baseline:
        throughput.append(("one process", baseline["articles_per_s"], COLOURS[1]))
        latency += [(f"1p {p}", baseline["latency_s"][p], COLOURS[1]) for p in ("p50", "p95", "p99")]
    paced_latency = []
    if paced and paced.get("latency_s"):
        paced_latency = [(f"{p}", paced["latency_s"][p], COLOURS[2]) for p in ("p50", "p95", "p99")]
    cpu = [(name[:7], ms, COLOURS[(i + 3) % len(COLOURS)])
           for i, (name, ms) in enumerate(sorted((services.get("cpu_ms_per_article") or {}).items(), key=lambda kv: -kv[1]))]
    rss = [(name, stats["max_mb"], COLOURS[(i + 2) % len(COLOURS)]) for i, (name, stats) in enumerate(sorted(services["rss"].items()))]
    panels = [_panel(20, "articles/s", "", throughput, width=200),
              _panel(260, "backlog: fetch to searchable (s)", "", latency, width=360),
              _panel(660, "paced: fetch to searchable (s)", "", paced_latency, width=200),
              _panel(900, "CPU ms per article", "", cpu, width=380),
              _panel(1320, "peak RSS per service (MB)", "", rss, width=260)]
    caption = (f"{result['pages']} pages, {result.get('cpus')} CPUs; ratio services/one process = {result.get('ratio')}"
               + (f"; paced at {paced['rate_per_s']}/s ({paced['pages']} pages)" if paced else "")
               + (f"; load average {result['run']['load_average_before']}" if result.get("run") else ""))
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="330" font-family="sans-serif" font-size="13">'
           '<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(panels) +
           f'\n<text x="800" y="322" text-anchor="middle" font-size="12">{escape(caption)}</text></svg>\n')
    path.write_text(svg)
