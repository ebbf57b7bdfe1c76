"""The index layout on the real Elasticsearch: versioned template, `<alias>-vN` behind the alias,
replicas starting at once, and a newer template left alone by an older replica."""

from __future__ import annotations

import asyncio

import pytest

from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index, index_template, mapping_version, template_name
from newsflow.core.settings import Settings

from .helpers import es, run_stem

pytestmark = pytest.mark.integration


@pytest.fixture
def alias_settings(stack):
    settings = Settings().replace(index_alias=f"{run_stem('layout')}-articles")
    yield settings
    client = es(settings)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_alias}-v*")
    client.options(ignore_status=404).indices.delete_index_template(name=template_name(settings))
    client.close()


def test_replicas_starting_together_share_one_versioned_index(alias_settings):
    async def replicas():
        clients = [es_client(alias_settings) for _ in range(4)]
        try:
            return await asyncio.gather(*(ensure_index(c, alias_settings) for c in clients))
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    assert set(asyncio.run(replicas())) == {f"{alias_settings.index_alias}-v1"}
    client = es(alias_settings)
    try:
        aliases = client.indices.get_alias(name=alias_settings.index_alias).body
        assert aliases == {f"{alias_settings.index_alias}-v1": {"aliases": {alias_settings.index_alias: {"is_write_index": True}}}}
        mapping = client.indices.get_mapping(index=alias_settings.index_alias).body
        assert next(iter(mapping.values()))["mappings"]["_meta"]["mapping_version"] == mapping_version() >= 2
    finally:
        client.close()


def test_an_older_replica_leaves_a_newer_template_alone(alias_settings):
    newer = index_template()
    newer["version"] += 1
    newer["index_patterns"] = [f"{alias_settings.index_alias}-v*"]
    client = es(alias_settings)
    try:
        client.indices.put_index_template(name=template_name(alias_settings), **newer)

        async def start():
            async with es_client(alias_settings) as c:
                return await ensure_index(c, alias_settings)

        asyncio.run(start())
        found = client.indices.get_index_template(name=template_name(alias_settings))
        assert found["index_templates"][0]["index_template"]["version"] == newer["version"]
    finally:
        client.close()
