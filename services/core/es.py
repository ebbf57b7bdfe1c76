"""Elasticsearch wiring every service shares: the client. (The index layout, its template and
aliases, belongs to the index stage: services/index/layout.py.)"""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer

from .security import es_connection_options
from .settings import Settings


def es_client(settings: Settings, **options) -> AsyncElasticsearch:
    # orjson: bulk bodies (and embeddings in them) serialise several times faster than with json.
    return AsyncElasticsearch(settings.elasticsearch_hosts, request_timeout=30, retry_on_timeout=True, max_retries=3,
                              serializer=OrjsonSerializer(), **{**es_connection_options(settings), **options})
