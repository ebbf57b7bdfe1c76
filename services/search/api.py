"""The search API: GET /search, GET /articles/{id}, GET /health, GET /metrics."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Annotated

from elasticsearch import NotFoundError
from fastapi import FastAPI, HTTPException, Query, Response
from fastapi import Path as PathParam
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from ..core.es import es_client
from ..core.settings import get_settings
from .query import search_body, to_facets, to_hit

settings = get_settings()
SEARCHES = Counter("newsflow_searches_total", "Search requests answered")


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.es = es_client(settings)
    yield
    await app.state.es.close()


app = FastAPI(title="newsflow search", version="0.1.0", lifespan=lifespan)


@app.get("/health")
async def health() -> dict:
    try:
        cluster = await app.state.es.options(request_timeout=3, max_retries=0).cluster.health()
        return {"status": "ok", "elasticsearch": cluster["status"]}
    except Exception as exc:  # noqa: BLE001 - health reports, never fails
        return {"status": "degraded", "elasticsearch": f"unreachable: {type(exc).__name__}"}


@app.get("/search")
async def search(
    q: Annotated[str, Query(min_length=1, max_length=500, description="simple query syntax: words, \"phrases\", +must, -not, prefix*")],
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
    site: Annotated[str | None, Query(max_length=253)] = None,
    size: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10000)] = 0,
) -> dict:
    body = search_body(q, size=size, offset=offset, language=language, site=site)
    try:
        result = await app.state.es.search(index=settings.index_alias, **body)
    except NotFoundError:  # nothing indexed yet: the index stage creates the alias
        return {"total": 0, "hits": [], "facets": {}}
    SEARCHES.inc()
    return {
        "total": result["hits"]["total"]["value"],
        "hits": [to_hit(h) for h in result["hits"]["hits"]],
        "facets": to_facets(result.get("aggregations")),
    }


@app.get("/articles/{article_id}")
async def article(article_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]) -> dict:
    try:
        doc = await app.state.es.get(index=settings.index_alias, id=article_id)
    except NotFoundError:
        raise HTTPException(404, f"no article {article_id}") from None
    return doc["_source"]


@app.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def main() -> None:
    import uvicorn

    from ..core.logs import configure_logging, logging_config

    configure_logging(settings.log_level, "search")
    uvicorn.run(app, host="127.0.0.1", port=settings.search_port, log_config=logging_config(settings.log_level, "search"))
