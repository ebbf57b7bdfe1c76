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
    services, baseline = result["services"], result.get("baseline")
    throughput = [("services", services["articles_per_s"], COLOURS[0])]
    latency = [(f"svc {p}", services["latency_s"][p], COLOURS[0]) for p in ("p50", "p95", "p99")]
    if baseline:
        throughput.append(("one process", baseline["articles_per_s"], COLOURS[1]))
        latency += [(f"1p {p}", baseline["latency_s"][p], COLOURS[1]) for p in ("p50", "p95", "p99")]
    rss = [(name, stats["max_mb"], COLOURS[(i + 2) % len(COLOURS)]) for i, (name, stats) in enumerate(sorted(services["rss"].items()))]
    panels = [_panel(20, "articles/s", "", throughput), _panel(320, "fetch to searchable (s)", "", latency, width=360),
              _panel(720, "peak RSS per service (MB)", "", rss)]
    caption = f"{result['pages']} pages, {result.get('cpus')} CPUs; ratio services/one process = {result.get('ratio')}"
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="330" font-family="sans-serif" font-size="13">'
           '<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(panels) +
           f'\n<text x="500" y="322" text-anchor="middle" font-size="12">{escape(caption)}</text></svg>\n')
    path.write_text(svg)
