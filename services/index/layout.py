"""The index layout the index stage owns: a versioned index template, physical indices
`<alias>-v1`, `<alias>-v2`, ... and the alias every reader and writer uses (its write index is
where the index stage writes)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from ..core.logs import get_logger
from ..core.settings import Settings
from .indices import first_index, with_cluster_settings

TEMPLATE_FILE = Path(__file__).resolve().parent / "template.json"
TEMPLATE_NAME = "newsflow-articles"

log = get_logger("newsflow.index.layout")


def index_template() -> dict:
    return json.loads(TEMPLATE_FILE.read_text())


def mapping_version(template: dict | None = None) -> int:
    """The version of the mapping in the template (recorded in every index it creates)."""
    template = template or index_template()
    return int(template["template"]["mappings"].get("_meta", {}).get("mapping_version", 1))


def physical_index(settings: Settings, version: int) -> str:
    return f"{settings.index_alias}-v{version}"


def template_name(settings: Settings) -> str:
    return f"{TEMPLATE_NAME}-{settings.index_alias}"


async def put_template(es: AsyncElasticsearch, settings: Settings) -> None:
    """Put the project's template, unless a newer one is there already: during a rolling
    upgrade an old replica must not take the new mapping back."""
    template = with_cluster_settings(index_template(), settings.index_alias, settings.es_shards, settings.es_replicas)
    ours = int(template.get("version", 1))
    try:
        found = await es.indices.get_index_template(name=template_name(settings))
        theirs = int(found["index_templates"][0]["index_template"].get("version") or 0)
    except NotFoundError:
        theirs = 0
    if theirs > ours:
        log.warning("newer index template in place, left alone", template=template_name(settings), ours=ours, theirs=theirs)
        return
    await es.indices.put_index_template(name=template_name(settings), **template)


async def write_index(es: AsyncElasticsearch, settings: Settings) -> str | None:
    """The physical index the alias writes to, or None when there is no alias yet."""
    try:
        found = (await es.indices.get_alias(name=settings.index_alias)).body
    except NotFoundError:
        return None
    writers = [name for name, spec in found.items() if spec["aliases"][settings.index_alias].get("is_write_index")]
    return writers[0] if writers else max(found, key=_generation)


def _generation(index: str) -> tuple[int, str]:
    """`articles-v10` comes after `articles-v9`."""
    suffix = index.rsplit("-v", 1)[-1]
    return (int(suffix) if suffix.isdigit() else -1, index)


async def ensure_index(es: AsyncElasticsearch, settings: Settings) -> str:
    """Put the template, and create `<alias>-v1` behind the alias when there is no alias yet.
    Safe when several replicas start at once: index and alias are created in one request, and
    the replicas that lose the race use the winner's. Returns the alias's write index."""
    await put_template(es, settings)
    index = await write_index(es, settings)
    if index is None:
        name = first_index(settings.index_alias, settings.index_partitioning, datetime.now(timezone.utc).date())
        try:
            await es.indices.create(index=name, aliases={settings.index_alias: {"is_write_index": True}})
            log.info("index created", index=name, alias=settings.index_alias, mapping_version=mapping_version())
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        index = await write_index(es, settings)
        if index is None:  # the index exists without the alias (made by hand): adopt it
            await es.indices.put_alias(index=name, name=settings.index_alias, is_write_index=True)
            index = name
    await _warn_if_outdated(es, index)
    return index


async def _warn_if_outdated(es: AsyncElasticsearch, index: str) -> None:
    mappings = (await es.indices.get_mapping(index=index)).body[index]["mappings"]
    current = int(mappings.get("_meta", {}).get("mapping_version", 1))
    if current < mapping_version():
        log.warning("the alias's index has an older mapping: new fields and analysis need a rebuild (newsflow reindex)",
                    index=index, index_mapping_version=current, template_mapping_version=mapping_version())
