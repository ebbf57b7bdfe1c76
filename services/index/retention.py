"""Retention of month indices: list the physical indices behind the alias, and drop whole
months older than a cutoff (`newsflow indices list|drop`). Dropping a month index removes it
from the alias in the same step; searches simply stop finding its articles."""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch

from .indices import months_before, parse_index
from ..core.logs import get_logger

log = get_logger("newsflow.index.retention")


@dataclass
class IndexRow:
    name: str
    in_alias: bool
    documents: int
    bytes: int


async def list_indices(es: AsyncElasticsearch, alias: str) -> list[IndexRow]:
    """Every physical index of the alias's naming (`<alias>-vN[-YYYY.MM]`), oldest first."""
    found = await es.indices.get(index=f"{alias}-v*", allow_no_indices=True, expand_wildcards="open,closed")
    names = sorted((n for n in found if parse_index(alias, n)), key=lambda n: (parse_index(alias, n).month or "", n))
    if not names:
        return []
    stats = (await es.indices.stats(index=",".join(names), metric="docs,store")).body["indices"]
    return [IndexRow(n, alias in found[n].get("aliases", {}), stats.get(n, {}).get("primaries", {}).get("docs", {}).get("count", 0),
                     stats.get(n, {}).get("total", {}).get("store", {}).get("size_in_bytes", 0)) for n in names]


async def drop_months(es: AsyncElasticsearch, alias: str, before: str, apply: bool = False) -> list[str]:
    """The month indices (any generation) of months before `before` ("YYYY.MM"); deleted only
    with `apply` (otherwise a dry run that names them)."""
    found = await es.indices.get(index=f"{alias}-v*", allow_no_indices=True, expand_wildcards="open,closed")
    doomed = months_before(alias, found, before)
    if apply and doomed:
        await es.indices.delete(index=",".join(doomed))
        log.info("month indices dropped", alias=alias, before=before, indices=doomed)
    return doomed
