"""Elasticsearch wiring: the client, and the index layout the project owns (template,
versioned physical index, alias)."""

from __future__ import annotations

import json
from pathlib import Path

from elasticsearch import AsyncElasticsearch, NotFoundError

from .settings import Settings

TEMPLATE_FILE = Path(__file__).resolve().parents[1] / "index" / "template.json"
TEMPLATE_NAME = "newsflow-articles"


def es_client(settings: Settings, **options) -> AsyncElasticsearch:
    return AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30, retry_on_timeout=True, max_retries=3, **options)


def index_template() -> dict:
    return json.loads(TEMPLATE_FILE.read_text())


def physical_index(settings: Settings, version: int) -> str:
    return f"{settings.index_alias}-v{version}"


async def ensure_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """Put the template, and create the first physical index behind the alias when the alias
    does not exist yet. Returns the index the alias points to."""
    template = index_template()
    template["index_patterns"] = [f"{settings.index_alias}-v*"]
    await es.indices.put_index_template(name=f"{TEMPLATE_NAME}-{settings.index_alias}", **template)
    try:
        aliases = await es.indices.get_alias(name=settings.index_alias)
        return next(iter(aliases.body))
    except NotFoundError:
        pass
    name = physical_index(settings, 1)
    if not await es.indices.exists(index=name):
        await es.indices.create(index=name, aliases={settings.index_alias: {"is_write_index": True}})
    else:
        await es.indices.put_alias(index=name, name=settings.index_alias)
    return name
