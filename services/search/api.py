"""The search API: GET /search, GET /articles/{id}, GET /articles/{id}/similar, GET /health,
GET /metrics, and a small web page at /.

Parameters are validated by FastAPI (bad input: 422 with the reason) and only ever become
values inside the bodies that `query.py` builds. With NEWSFLOW_API_KEY set, every endpoint
but /health wants it in the `X-API-Key` header (or `api_key` query parameter for the page).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from elasticsearch import NotFoundError
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from ..core.es import es_client
from ..core.settings import get_settings
from .monitor import PipelineMonitor
from .stats import (Weeks, article_series, articles_body, entities_body, latest_date, span_body, time_axis,
                    top_entities)
from .query import (SearchRequest, cluster_count, decode_cursor, next_cursor, next_offset, search_body, similar_body,
                    to_facets, to_hit)

settings = get_settings()
PAGE = Path(__file__).resolve().parent / "static" / "index.html"
DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard.html"
SEARCHES = Counter("newsflow_searches_total", "Search requests answered", ["endpoint"])
LATENCY = Histogram("newsflow_search_seconds", "Time to answer a search", ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
ARTICLE_ID = PathParam(pattern=r"^[0-9a-f]{32}$", description="article id (32 hex digits)")
Terms = Annotated[list[str], Query(max_length=10)]


def require_key(request: Request) -> None:
    expected = settings.api_key
    if not expected:
        return
    given = request.headers.get("x-api-key") or request.query_params.get("api_key") or ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong API key (X-API-Key header)")


async def query_embedding(q: str) -> list[float]:
    """The query's embedding, from the same model the enrich stage embeds articles with."""
    from ..enrich.embedding import EmbeddingUnavailable, embed_query

    try:
        return await asyncio.to_thread(embed_query, q)
    except EmbeddingUnavailable as exc:
        raise HTTPException(503, f"semantic search unavailable: {exc}") from None


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.es = es_client(settings)
    app.state.monitor = PipelineMonitor(settings, app.state.es)
    yield
    await app.state.monitor.close()
    await app.state.es.close()


app = FastAPI(title="newsflow search", version="0.2.0", lifespan=lifespan,
              description="Full-text, filtered, faceted search over the articles the pipeline indexed.")


@app.get("/health", summary="Liveness, and whether Elasticsearch answers")
async def health() -> dict:
    try:
        cluster = await app.state.es.options(request_timeout=3, max_retries=0).cluster.health()
        return {"status": "ok", "elasticsearch": cluster["status"]}
    except Exception as exc:  # noqa: BLE001 - health reports, never fails
        return {"status": "degraded", "elasticsearch": f"unreachable: {type(exc).__name__}"}


@app.get("/search", dependencies=[Depends(require_key)], summary="Search articles")
async def search(
    q: Annotated[str | None, Query(max_length=500, description='simple query syntax: words, "phrases", +must, -not, prefix*')] = None,
    site: Terms = [],
    language: Annotated[list[str], Query(max_length=10, description="ISO 639-1 codes")] = [],
    topic: Terms = [],
    entity: Annotated[list[str], Query(max_length=5, description="a person, organisation or place named in the article")] = [],
    cluster: Annotated[str | None, Query(max_length=64)] = None,
    published_from: Annotated[date | None, Query(alias="from")] = None,
    published_to: Annotated[date | None, Query(alias="to")] = None,
    mode: Annotated[Literal["keyword", "semantic", "hybrid"], Query(
        description="keyword: text matching; semantic: nearest embeddings; hybrid: both, scores added")] = "keyword",
    sort: Literal["relevance", "date"] = "relevance",
    size: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000, description="for shallow pages; use cursor to go deeper")] = 0,
    cursor: Annotated[str | None, Query(max_length=2000, description="the next_cursor of the previous page")] = None,
    collapse: Annotated[Literal["cluster", "none"], Query(
        description="cluster: one hit per near-duplicate cluster, with its other copies; pages with offset")] = "none",
    include_removed: Annotated[bool, Query(description="also articles a refetch found taken down (404/410)")] = False,
) -> dict:
    for code in language:
        if not (2 <= len(code) <= 3 and code.isalpha() and code.islower()):
            raise HTTPException(422, f"language must be an ISO 639-1 code, not {code!r}")
    if cursor:
        try:
            decode_cursor(cursor)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
    if published_from and published_to and published_from > published_to:
        raise HTTPException(422, "'from' is after 'to'")
    if mode != "keyword" and (not q or cursor or sort != "relevance"):
        raise HTTPException(422, f"mode={mode} needs q, ranks by relevance and pages with offset, not cursor")
    if collapse == "cluster" and cursor:
        raise HTTPException(422, "collapse=cluster pages with offset, not cursor")
    request = SearchRequest(q=q, mode=mode, site=site, language=language, topic=topic, entity=entity, cluster=cluster,
                            published_from=published_from, published_to=published_to, sort=sort, size=size,
                            offset=offset, cursor=cursor, collapse=collapse == "cluster",
                            include_removed=include_removed)
    started = time.perf_counter()
    vector = await query_embedding(q) if mode != "keyword" else None
    try:
        result = await app.state.es.search(index=settings.index_alias, **search_body(request, vector))
    except NotFoundError:  # nothing indexed yet: the index stage creates the alias
        empty = {"total": 0, "hits": [], "facets": to_facets(None), "next_cursor": None}
        return {**empty, "clusters": 0, "next_offset": None} if request.collapse else empty
    finally:
        LATENCY.labels("search").observe(time.perf_counter() - started)
    SEARCHES.labels("search").inc()
    hits = result["hits"]["hits"]
    answer = {
        "total": result["hits"]["total"]["value"],  # articles, collapsed or not
        "took_ms": result["took"],
        "hits": [to_hit(h) for h in hits],
        "facets": to_facets(result.get("aggregations")),
        "next_cursor": None if request.collapse else next_cursor(hits, size),
    }
    if request.collapse:
        clusters = cluster_count(result.get("aggregations"))
        answer.update(clusters=clusters, next_offset=next_offset(request, len(hits), clusters))
    return answer


@app.get("/articles/{article_id}", dependencies=[Depends(require_key)], summary="One article, as indexed")
async def article(article_id: Annotated[str, ARTICLE_ID]) -> dict:
    return (await find_article(article_id, source=True))["_source"]


async def find_article(article_id: str, source: bool) -> dict:
    """The article's hit wherever it is behind the alias: a get by id cannot address an alias
    over several indices (months), a search by id can."""
    try:
        result = await app.state.es.search(index=settings.index_alias, query={"ids": {"values": [article_id]}},
                                           size=1, source=source)
    except NotFoundError:  # no alias yet
        result = {"hits": {"hits": []}}
    if not result["hits"]["hits"]:
        raise HTTPException(404, f"no article {article_id}")
    return result["hits"]["hits"][0]


@app.get("/articles/{article_id}/similar", dependencies=[Depends(require_key)], summary="Articles like this one")
async def similar(article_id: Annotated[str, ARTICLE_ID], size: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
    doc = await find_article(article_id, source=False)
    result = await app.state.es.search(index=settings.index_alias, **similar_body(article_id, doc["_index"], size))
    SEARCHES.labels("similar").inc()
    return {"id": article_id, "hits": [to_hit(h) for h in result["hits"]["hits"]]}


@app.get("/stats/articles", dependencies=[Depends(require_key)], summary="Articles over time, by site, language and topic")
async def stats_articles() -> dict:
    now = datetime.now(timezone.utc)
    try:
        span = await app.state.es.search(index=settings.index_alias, **span_body(now))
        axis = time_axis(span.get("aggregations"))
        if axis is None:
            return article_series(None)
        result = await app.state.es.search(index=settings.index_alias, **articles_body(now, axis))
    except NotFoundError:
        return article_series(None)
    return article_series(result.get("aggregations"), axis[2])


@app.get("/stats/entities", dependencies=[Depends(require_key)],
         summary="Top people, organisations and places this week against last week")
async def stats_entities(until: Annotated[date | None, Query(
        description="last day of 'this week'; default: the newest publication date, up to today")] = None) -> dict:
    now = datetime.now(timezone.utc)
    try:
        if until is None:
            latest = await app.state.es.search(index=settings.index_alias, **span_body(now))
            until = latest_date(latest.get("aggregations"), now.date())
        weeks = Weeks(until)
        result = await app.state.es.search(index=settings.index_alias, **entities_body(weeks))
    except NotFoundError:
        weeks = Weeks(until or now.date())
        return top_entities(None, weeks)
    return top_entities(result.get("aggregations"), weeks)


@app.get("/stats/pipeline", dependencies=[Depends(require_key)],
         summary="Events/s per stage, consumer lag, dead letters by reason over time")
async def stats_pipeline() -> dict:
    return await app.state.monitor.health()


@app.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@app.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(PAGE, media_type="text/html")


@app.get("/dashboard", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(DASHBOARD, media_type="text/html")


def main() -> None:
    import uvicorn

    from ..core.logs import configure_logging, logging_config

    configure_logging(settings.log_level, "search")
    uvicorn.run(app, host="127.0.0.1", port=settings.search_port, log_config=logging_config(settings.log_level, "search"))
