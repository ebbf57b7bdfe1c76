"""Benchmark of the fetcher: pages/s on loopback against a local site, beside a plain httpx loop
over the same pages in the same run, and CPU time per fetched page.

    .venv/bin/python bench/fetch_bench.py [--pages 1000] [--concurrency 16] [--rounds 5] [--out PATH]

The site (aiohttp, in its own process so it does not share the client's CPU) serves N distinct
article pages of about 30 KB and no robots.txt (404: allowed). Three clients fetch every page
once per round, in turns:

- httpx:     a plain httpx.AsyncClient loop, `concurrency` requests at a time (the baseline);
- fetcher:   newsflow's Fetcher with politeness lifted (no per-host delay, per-host concurrency =
             `concurrency`) but every check still on: robots.txt, address guard, streaming size
             limit, content type, decoding, redirect handling;
- stage:     the whole fetch stage function: request event -> news.raw event (normalisation,
             state table, charset hint, zstd compression, schema validation of the output).

Each figure is the best round (least disturbed by other work on the machine). The target is
fetcher >= 0.8x httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import socket
import sys
import time
from pathlib import Path

import httpx

from record import write_result  # noqa: E402  (bench/ is on the path of a script run from it)

TARGET_RATIO = 0.8


def page_html(n: int) -> bytes:
    paragraph = (f"<p>Absatz über die Straßenbahn-Verlängerung in Berlin, Artikel {n}: der Senat hat am Dienstag "
                 f"die Pläne für die neue Strecke vorgestellt, die bis 2030 fertig sein soll.</p>\n")
    return (f"<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'><title>Artikel {n}</title>"
            f"<link rel='canonical' href='/page/{n}.html'></head><body><article><h1>Artikel {n}</h1>"
            + paragraph * 180 + "</article></body></html>").encode()


def serve(port_pipe, pages: int) -> None:
    """The site: runs in a child process until terminated."""
    from aiohttp import web

    bodies = {n: page_html(n) for n in range(pages)}

    async def page(request):
        n = int(request.match_info["n"])
        if n not in bodies:
            raise web.HTTPNotFound()
        return web.Response(body=bodies[n], content_type="text/html", charset="utf-8")

    async def main():
        app = web.Application()
        app.router.add_get("/page/{n}.html", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock, backlog=1024)
        await site.start()
        port_pipe.send(sock.getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def run_httpx(urls: list[str], concurrency: int) -> int:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(url):
            async with gate:
                response = await client.get(url)
                return len(response.content) if response.status_code == 200 else 0

        return sum(1 for size in await asyncio.gather(*map(one, urls)) if size)


def bench_settings(concurrency: int):
    from newsflow.core.settings import Settings

    return Settings(fetch_allowed_networks=("127.0.0.0/8",), fetch_host_delay_s=0.0, fetch_host_concurrency=concurrency,
                    fetch_concurrency=concurrency, fetch_refetch_after_s=0)


async def run_fetcher(urls: list[str], concurrency: int) -> int:
    from newsflow.fetch.client import Fetcher

    fetcher = Fetcher(bench_settings(concurrency))
    try:
        async def one(url):
            return len((await fetcher.fetch(url)).body)

        return sum(1 for size in await asyncio.gather(*map(one, urls)) if size)
    finally:
        await fetcher.aclose()


async def run_stage(urls: list[str], concurrency: int) -> int:
    """The stage function as the shell runs it: `concurrency` requests in flight, each output
    encoded (schema-validated) like the shell does before sending."""
    from newsflow.core.envelope import encode, make_event
    from newsflow.core.ids import article_id, new_trace_id
    from newsflow.fetch.client import Fetcher
    from newsflow.fetch.fetcher import OUTPUT_SCHEMA, make_handler

    settings = bench_settings(concurrency)
    fetcher = Fetcher(settings)
    handle = make_handler(settings, {}, fetcher)
    gate = asyncio.Semaphore(concurrency)
    try:
        async def one(url):
            request = make_event("news.fetch.request/1", article_id(url), new_trace_id(), {"url": url, "source": "bench"}, "bench")
            async with gate:
                raw = await handle(request)
                return len(encode(raw, OUTPUT_SCHEMA))

        return sum(1 for size in await asyncio.gather(*map(one, urls)) if size)
    finally:
        await fetcher.aclose()


def measure(fn, urls: list[str], concurrency: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    fetched = asyncio.run(fn(urls, concurrency))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"pages": fetched, "seconds": round(wall, 3), "pages_per_s": round(fetched / wall, 1),
            "cpu_ms_per_page": round(cpu * 1000 / max(fetched, 1), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from newsflow.core.logs import configure_logging

    configure_logging("warning", "bench")  # the service logs a line per page; not part of what is measured

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child, args.pages), daemon=True)
    server.start()
    try:
        port = parent.recv()
        urls = [f"http://127.0.0.1:{port}/page/{n}.html" for n in range(args.pages)]
        clients = {"httpx": run_httpx, "fetcher": run_fetcher, "stage": run_stage}
        for fn in clients.values():  # warm-up: imports, connection setup, caches
            measure(fn, urls[:100], args.concurrency)
        rounds: dict[str, list[dict]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, fn in clients.items():
                result = measure(fn, urls, args.concurrency)
                assert result["pages"] == args.pages, f"{name} fetched {result['pages']} of {args.pages}"
                rounds[name].append(result)
    finally:
        server.terminate()
        server.join(5)

    best = {name: max(results, key=lambda r: r["pages_per_s"]) for name, results in rounds.items()}
    ratio = round(best["fetcher"]["pages_per_s"] / best["httpx"]["pages_per_s"], 3)
    report = {
        "benchmark": "fetch throughput on loopback, politeness lifted",
        "pages": args.pages, "page_bytes": len(page_html(0)), "concurrency": args.concurrency, "rounds": args.rounds,
        "httpx": best["httpx"], "fetcher": best["fetcher"], "stage": best["stage"],
        "ratio_fetcher_vs_httpx": ratio,
        "ratio_stage_vs_httpx": round(best["stage"]["pages_per_s"] / best["httpx"]["pages_per_s"], 3),
        # The same ratio round by round (each round runs the clients back to back): its spread
        # shows how much other load on the machine moved the figures.
        "ratio_fetcher_vs_httpx_per_round": [round(f["pages_per_s"] / h["pages_per_s"], 3)
                                             for f, h in zip(rounds["fetcher"], rounds["httpx"])],
        "target_ratio": TARGET_RATIO, "meets_target": ratio >= TARGET_RATIO,
        "all_rounds": rounds,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    if args.out:
        write_result(args.out, report)
    summary = {k: report[k] for k in ("pages", "concurrency", "ratio_fetcher_vs_httpx", "ratio_stage_vs_httpx", "meets_target")}
    for name in clients:
        summary[name] = f"{best[name]['pages_per_s']} pages/s, {best[name]['cpu_ms_per_page']} CPU ms/page"
    print(json.dumps(summary, indent=2))
    return 0 if report["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
