"""The JSON Schemas of schemas/ and the topic catalogue, loaded once and used to validate
every event a stage reads or writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from .settings import REPO_DIR

SCHEMAS_DIR = REPO_DIR / "schemas"


class SchemaError(ValueError):
    """An event does not match its schema; the message says where and why."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    schema: str
    partitions: int
    retention_ms: int
    cleanup_policy: str
    max_message_bytes: int | None = None

    def kafka_config(self) -> dict[str, str]:
        config = {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}
        if self.max_message_bytes:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config


@lru_cache(maxsize=1)
def topic_catalogue() -> dict[str, TopicSpec]:
    data = yaml.safe_load((SCHEMAS_DIR / "topics.yaml").read_text())
    specs = [
        TopicSpec(
            name=t["name"], schema=t["schema"], partitions=int(t["partitions"]),
            retention_ms=int(t["retention_ms"]), cleanup_policy=t["cleanup_policy"],
            max_message_bytes=t.get("max_message_bytes"),
        )
        for t in data["topics"]
    ]
    return {s.name: s for s in specs}


def schema_file(schema_name: str) -> Path:
    """`news.raw/1` -> schemas/news.raw-1.json"""
    name, _, major = schema_name.partition("/")
    return SCHEMAS_DIR / f"{name}-{major}.json"


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in SCHEMAS_DIR.glob("*.json")
    ]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(schema_name: str) -> Draft202012Validator:
    path = schema_file(schema_name)
    if not path.exists():
        raise SchemaError(f"unknown schema {schema_name!r}")
    return Draft202012Validator(json.loads(path.read_text()), registry=_registry(), format_checker=FormatChecker())


def validate(event: dict, schema_name: str) -> None:
    errors = sorted(validator(schema_name).iter_errors(event), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise SchemaError(f"{schema_name}: {where}: {first.message[:300]}")
